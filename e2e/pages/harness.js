// Helpers for the browser tests, loaded by harness.html. Every URL is relative, so the same
// page under /coi/ loads everything (worker, modules, wasm) with the isolation headers.
import * as kyutai from '../../web/src/index.js';

export { kyutai };
export const STT = new URL('../../tests/data/stt/', import.meta.url);
// The tests' codec-free frame tokenizer: a module the engine's worker imports.
export const BAND_ENERGY = { module: new URL('../../tests/node/fixtures/band-energy.mjs', import.meta.url) };

// The tiny STT checkpoint with the band-energy frame tokenizer (unless options say otherwise).
export function loadStt(options = {}) {
  return kyutai.loadModel({ config: new URL('config.json', STT), weights: new URL('weights.safetensors', STT), frameTokenizer: BAND_ENERGY, ...options });
}

// Kyutai's streaming ASR reference run on the tiny STT checkpoint (tests/data/stt/README.md):
// frame 0 twice, then 1, 2, ...; one extra frame of zeros like tests/node/lm.test.mjs.
export async function sttVectors() {
  const v = await (await fetch(new URL('vectors.json', STT))).json();
  const run = v.asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const frames = [];
  for (let f = 0; f <= F; f++) frames.push(Int32Array.from({ length: Q }, (_, q) => (f < F ? run.audio_codes.data[q * F + f] : 0)));
  return { frames, expected: run.text_token.data, vad: run.extra_heads_probs.data };
}

export async function asrOnCodes(model, frames) {
  const session = await model.createAsrSession();
  const tokens = [];
  const vad = [];
  for (const f of frames) {
    const r = await session.pushFrame(f);
    tokens.push(r.textToken);
    vad.push(...r.vad);
  }
  await session.dispose();
  return { tokens, vad };
}

// 24 kHz mono samples of an audio file (decodeAudioData resamples to the context's rate).
export async function decode(url) {
  const bytes = await (await fetch(url)).arrayBuffer();
  const buffer = await new OfflineAudioContext(1, 1, kyutai.SAMPLE_RATE).decodeAudioData(bytes);
  return buffer.getChannelData(0).slice();
}

// Renders `samples` through the capture worklet in an OfflineAudioContext. With a session,
// frames stream to the engine and the results come back; without, the frames themselves.
export async function offlineCapture(samples, { session = null, maxQueuedFrames = Infinity } = {}) {
  const F = kyutai.FRAME_SIZE;
  const length = Math.ceil(samples.length / F) * F;  // the last frame padded with silence
  const context = new OfflineAudioContext(1, length, kyutai.SAMPLE_RATE);
  const buffer = context.createBuffer(1, samples.length, kyutai.SAMPLE_RATE);
  buffer.copyToChannel(samples, 0);
  const source = context.createBufferSource();
  source.buffer = buffer;
  const capture = await kyutai.createCapture(context, { source });
  const frames = [];
  const results = [];
  let stream = null;
  if (session) {
    stream = await session.connect(capture, { maxQueuedFrames });
    stream.addEventListener('result', (e) => results.push(e.detail));
  } else {
    capture.addEventListener('frame', (e) => frames.push(e.detail));
  }
  source.start();
  await context.startRendering();
  const stats = await capture.stats();
  let streamStats = null;
  if (stream) {
    await stream.whenProcessed(stats.framesPosted);
    streamStats = (await stream.close()).stats;
  } else {
    // Frame messages may still be in flight when rendering resolves.
    while (frames.length < stats.framesPosted) await new Promise((r) => setTimeout(r, 10));
  }
  await capture.dispose();
  return { framesPosted: stats.framesPosted, samplesIn: stats.samplesIn, frames, results: stream ? results : null, streamStats };
}
