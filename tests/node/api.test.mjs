// The public API (web/src/index.js) in Node: the engine runs in-process behind the same RPC
// messages the browser's worker uses. Checked against Kyutai's reference vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { data, read } from './data.mjs';
import { Readable } from 'node:stream';
import { loadModel, KyutaiError, FRAME_SIZE } from '../../web/src/index.js';
import { BAND_ENERGY_URL } from './fixtures/band-energy.mjs';

const path = (p) => new URL(p, data).pathname;

function sttVectors() {
  const run = JSON.parse(read('stt/vectors.json')).asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const frames = [];
  for (let f = 0; f <= F; f++) frames.push(Int32Array.from({ length: Q }, (_, q) => (f < F ? run.audio_codes.data[q * F + f] : 0)));
  return { frames, expected: run.text_token.data, vad: run.extra_heads_probs.data };
}

const loadStt = (options = {}) => loadModel({ config: path('stt/config.json'), weights: path('stt/weights.safetensors'), ...options });
// The tests' codec-free frame tokenizer (tests/node/fixtures/band-energy.mjs), for audio paths without Mimi.
const bandEnergy = { module: BAND_ENERGY_URL };
const loadLm = (options = {}) => loadModel({ config: path('lm/config.json'), weights: path('lm/weights.safetensors'), frameTokenizer: bandEnergy, ...options });

async function asrTokens(model, frames) {
  const session = await model.createAsrSession();
  const tokens = [];
  for (const f of frames) tokens.push((await session.pushFrame(f)).textToken);
  await session.dispose();
  return tokens;
}

// A deterministic test signal: a chirp with a slow amplitude envelope.
function chirp(frames) {
  const x = new Float32Array(frames * FRAME_SIZE);
  for (let i = 0; i < x.length; i++) {
    const t = i / 24000;
    x[i] = 0.4 * Math.sin(2 * Math.PI * (100 * t + 400 * t * t)) * (0.55 + 0.45 * Math.sin(2 * Math.PI * 0.7 * t));
  }
  return x;
}

test('loadModel from paths: config, backend, threads, progress, and Kyutai ASR tokens', async () => {
  const progress = [];
  const model = await loadStt({ onProgress: (p) => progress.push(p) });
  assert.equal(model.inWorker, false);
  assert.equal(model.backend, 'wasm-simd');
  assert.equal(model.threads, 1);
  assert.equal(model.config.nQ, 8);
  assert.equal(model.config.modelType, 'stt');
  assert.equal(model.config.textPaddingId, 3);
  assert.ok(model.weightBytes > 500000);
  assert.equal(model.frameTokenizer, null);  // none given: the session takes code frames
  assert.equal(model.textTokenizer, null);
  const size = fs.statSync(path('stt/weights.safetensors')).size;
  assert.ok(progress.length >= 2);
  // A file is 'convert' (no network, so no cache either), then 'ready'.
  assert.deepEqual(progress.at(-2), { phase: 'convert', loaded: size, total: size, tensors: 27 });
  assert.deepEqual(progress.at(-1), { phase: 'ready', loaded: size, total: size, source: 'local' });
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].loaded >= progress[i - 1].loaded);

  const { frames, expected, vad } = sttVectors();
  const session = await model.createAsrSession();
  for (let f = 0; f < frames.length; f++) {
    const r = await session.pushFrame(frames[f]);
    assert.equal(r.step, f + 1);
    assert.equal(r.textToken, expected[f], `token at ${f}`);
    assert.ok(r.vad instanceof Float32Array && r.vad.length === 24);
    for (let i = 0; i < 24; i++) assert.ok(Math.abs(r.vad[i] - vad[f * 24 + i]) < 1e-4);
    assert.deepEqual(r.words, []);  // none of these tokens is padding: no word is final yet
  }
  // End of input: the tokens after the 6-step ASR delay form the last word.
  const words = await session.flush();
  assert.equal(words.length, 1);
  assert.deepEqual(Array.from(words[0].tokens), expected.slice(5));
  assert.equal(words[0].text, null);  // no text tokenizer in this bundle
  await model.dispose();
});

test('weights from a Buffer, ArrayBuffer, Blob, Response, ReadableStream, Node stream and file: URL give the same model', async () => {
  const bytes = read('stt/weights.safetensors');
  const config = JSON.parse(read('stt/config.json'));
  const { frames, expected } = sttVectors();
  const sources = {
    buffer: bytes,
    arrayBuffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    blob: new Blob([bytes]),
    response: new Response(bytes),
    readableStream: new Blob([bytes]).stream(),
    nodeStream: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000, 300000), bytes.subarray(300000)]),
    fileUrl: new URL('stt/weights.safetensors', data),
  };
  for (const [name, weights] of Object.entries(sources)) {
    const model = await loadModel({ config, weights });  // config as a parsed object
    assert.deepEqual(await asrTokens(model, frames), expected, name);
    await model.dispose();
  }
});

test('pushAudio: frames go through the frame tokenizer (deterministic codes), then the model', async () => {
  const model = await loadStt({ frameTokenizer: bandEnergy });
  assert.deepEqual(model.frameTokenizer, { kind: 'band-energy', frameSize: 1920, codebooks: 8, canDecode: true });
  const audio = chirp(12);
  const run = async () => {
    const s = await model.createAsrSession();
    const out = [];
    for (let f = 0; f < 12; f++) out.push(await s.pushAudio(audio.slice(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)));
    await s.dispose();
    return out;
  };
  const a = await run();
  const b = await run();
  for (let f = 0; f < 12; f++) {
    assert.equal(a[f].codes.length, 8);
    assert.ok(a[f].codes.every((c) => c >= 0 && c < 32));
    assert.deepEqual(a[f].codes, b[f].codes);
    assert.equal(a[f].textToken, b[f].textToken);
  }
  // The codes are what the model read: the same codes through pushFrame give the same tokens.
  assert.deepEqual(await asrTokens(model, a.map((r) => r.codes)), a.map((r) => r.textToken));
  // A chirp sweeps up: the band holding the most energy moves up over time.
  const loudest = (codes) => codes.indexOf(Math.max(...codes));
  assert.ok(loudest(a[11].codes) > loudest(a[0].codes));
  await assert.rejects(model.createAsrSession().then((s) => s.pushAudio(new Float32Array(100))),
    (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /1920 samples/.test(e.message));
  await model.dispose();
});

test('errors are KyutaiError with the engine message; a session survives them; disposal is final', async () => {
  const model = await loadStt();
  const session = await model.createAsrSession();
  await assert.rejects(session.pushFrame(new Int32Array(3)),
    (e) => e instanceof KyutaiError && e.name === 'KyutaiError' && e.code === 'INVALID_ARGUMENT' && /expected 8 codebooks/.test(e.message));
  assert.equal((await session.pushFrame(new Int32Array(8))).step, 1);
  assert.equal(session.pushText, undefined);  // an ASR session takes audio, not text
  await assert.rejects(loadModel({ config: path('stt/config.json'), weights: read('stt/weights.safetensors').subarray(0, 5000) }),
    (e) => e instanceof KyutaiError && /stream ended|inside tensor/.test(e.message));
  await assert.rejects(loadModel({ config: '{"dim": 64}', weights: path('stt/weights.safetensors') }),
    (e) => e instanceof KyutaiError && e.code === 'INVALID_CONFIG');
  await assert.rejects(loadStt({ format: 'q3' }), (e) => e.code === 'INVALID_ARGUMENT' && /q3/.test(e.message));
  await assert.rejects(loadStt({ frameTokenizer: { type: 'nope' } }), (e) => e.code === 'INVALID_ARGUMENT' && /frameTokenizer/.test(e.message));
  await assert.rejects(loadStt({ frameTokenizer: { frameSize: 1920, codebooks: 4, encode: () => new Int32Array(4) } }).then((m) => m.createAsrSession()).then((s) => s.pushAudio(new Float32Array(1920))),
    (e) => e.code === 'INVALID_ARGUMENT' && /gives 4 codebooks per frame, the model reads 8/.test(e.message));
  await assert.rejects(loadStt({ worker: true }), (e) => e.code === 'UNSUPPORTED');

  const other = await model.createAsrSession();
  await model.dispose();
  assert.equal(model.disposed, true);
  assert.equal(other.disposed, true);  // sessions go with their model
  await assert.rejects(other.pushFrame(new Int32Array(8)), (e) => e.code === 'INVALID_STATE');
  await assert.rejects(model.createAsrSession(), (e) => e.code === 'INVALID_STATE');
  await model.dispose();  // twice is fine
});

test('SentencePiece and Mimi come from the engine: a clear error while it lacks them', async (t) => {
  const { createEngine } = await import('../../web/src/engine.js');
  const engine = await createEngine();
  if (typeof engine.loadTokenizer === 'function') {
    t.skip('this engine has loadTokenizer: covered by tests/node/text.test.mjs');
    return;
  }
  await assert.rejects(loadStt({ tokenizer: new Uint8Array([1, 2, 3]) }),
    (e) => e instanceof KyutaiError && e.code === 'UNSUPPORTED' && /text tokenizer.*engine\.loadTokenizer is missing/.test(e.message));
  if (typeof engine.loadMimi !== 'function') {
    await assert.rejects(loadStt({ frameTokenizer: { type: 'mimi', config: '{}', weights: new Uint8Array(1) } }),
      (e) => e.code === 'UNSUPPORTED' && /the Mimi codec is not available/.test(e.message));
  }
});

test('a live stream over a MessagePort: results as events and as an async iterator, then end', async () => {
  const model = await loadStt({ frameTokenizer: bandEnergy });
  const session = await model.createAsrSession();
  const { port1, port2 } = new MessageChannel();
  const stream = await session.connect(port2);
  const audio = chirp(10);
  const direct = await model.createAsrSession();
  const expected = [];
  for (let f = 0; f < 10; f++) expected.push(await direct.pushAudio(audio.slice(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)));

  const events = [];
  stream.addEventListener('result', (e) => events.push(e.detail));
  const iterated = [];
  const iteration = (async () => {
    for await (const r of stream) iterated.push(r);
  })();
  for (let f = 0; f < 10; f++) port1.postMessage({ type: 'frame', seq: f, samples: audio.slice(f * FRAME_SIZE, (f + 1) * FRAME_SIZE) });
  const stats = await stream.whenProcessed(10);
  assert.equal(stats.framesProcessed, 10);
  assert.equal(stats.dropped, 0);
  const end = await stream.close();
  await iteration;
  port1.close();
  assert.equal(end.stats.framesReceived, 10);
  assert.equal(events.length, 10);
  assert.deepEqual(iterated.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let f = 0; f < 10; f++) {
    assert.equal(events[f].textToken, expected[f].textToken);
    assert.deepEqual(events[f].codes, expected[f].codes);
    assert.ok(events[f].timing.computeMs >= 0 && events[f].timing.latencyMs >= events[f].timing.computeMs);
  }
  assert.ok(end.stats.rtf > 0);
  await model.dispose();
});

test('when inference falls behind, the queue stays bounded and every dropped frame is counted', async () => {
  const model = await loadStt({ frameTokenizer: bandEnergy });
  const session = await model.createAsrSession();
  const { port1, port2 } = new MessageChannel();
  const stream = await session.connect(port2, { maxQueuedFrames: 2 });
  const dropEvents = [];
  stream.addEventListener('stats', (e) => dropEvents.push(e.detail.dropped));
  const results = [];
  stream.addEventListener('result', (e) => results.push(e.detail));
  const frame = chirp(1);
  // 40 frames at once, far faster than one inference step: all are queued before the first step runs.
  for (let f = 0; f < 40; f++) port1.postMessage({ type: 'frame', seq: f, samples: frame.slice() });
  const stats = await stream.whenProcessed(40);
  const end = await stream.close();
  port1.close();
  assert.equal(end.stats.framesReceived, 40);
  assert.ok(end.stats.dropped > 0, 'frames were dropped');
  assert.equal(end.stats.framesProcessed + end.stats.dropped, 40);
  assert.equal(results.length, end.stats.framesProcessed);
  assert.ok(dropEvents.length > 0 && dropEvents.at(-1) === end.stats.dropped, 'drops are reported as they happen');
  // The oldest frames go first: the newest frame is always processed.
  assert.equal(results.at(-1).seq, 39);
  assert.ok(stats.dropped === end.stats.dropped);
  await model.dispose();
});

test('TTS and duplex sessions on the Moshi-shaped checkpoint: audio codes and decoded frames', async () => {
  const model = await loadLm();
  const { nQ, depQ, card } = model.config;
  assert.equal(depQ, 8);
  const tts = await model.createTtsSession();
  let withAudio = 0;
  for (let i = 0; i < 6; i++) {
    const r = await tts.pushText(i < 4 ? 10 + i : -1);
    assert.equal(r.step, i + 1);
    if (r.audio) {
      withAudio++;
      assert.equal(r.audio.length, depQ);
      assert.ok(r.audio.every((c) => c >= 0 && c < card));
      assert.ok(r.pcm instanceof Float32Array && r.pcm.length === FRAME_SIZE);
    } else {
      assert.equal(r.pcm, null);
    }
  }
  assert.ok(withAudio >= 4, 'frames come out once the delays are filled');
  await assert.rejects(tts.speak('hello'), (e) => e.code === 'INVALID_STATE' && /text tokenizer/.test(e.message));
  await tts.reset();
  const stream = await tts.speak([11, 12, 13], { tailFrames: 2 });
  const frames = [];
  for await (const r of stream) frames.push(r);
  assert.equal(frames.length, 5);
  assert.deepEqual(frames.map((r) => r.step), [1, 2, 3, 4, 5]);
  assert.equal(frames[4].textToken, model.config.textPaddingId);

  const duplex = await model.createDuplexSession();
  await assert.rejects(duplex.pushFrame(new Int32Array(nQ)), /expected 8 codebooks/);
  const r = await duplex.pushFrame(new Int32Array(nQ - depQ).fill(3));
  assert.equal(r.step, 1);
  const a = await duplex.pushAudio(chirp(1));
  assert.equal(a.codes.length, nQ);  // the tokenizer's codes; the model read the first nQ - depQ
  await model.dispose();
});

test('format converts weights at load time: 8-bit and 4-bit are smaller and still run', async () => {
  const { frames, expected } = sttVectors();
  const sizes = {};
  for (const format of ['auto', 'q8', 'q4']) {
    const model = await loadStt({ format });
    sizes[format] = model.weightBytes;
    const tokens = await asrTokens(model, frames);
    assert.equal(tokens.length, expected.length);
    if (format === 'auto') assert.deepEqual(tokens, expected);
    await model.dispose();
  }
  // Matrices shrink 4x; embedding tables keep the checkpoint's precision (f32 here), and in
  // this tiny model they are a third of the weights.
  assert.ok(sizes.q8 < sizes.auto / 2, `q8 ${sizes.q8} vs f32 ${sizes.auto}`);
  assert.ok(sizes.q4 < sizes.q8, `q4 ${sizes.q4} vs q8 ${sizes.q8}`);
});

test('kvCache: bf16 KV caches keep Kyutai\'s ASR tokens; a wrong value is a clear error', async () => {
  const { frames, expected } = sttVectors();
  const model = await loadStt({ kvCache: 'bf16' });
  assert.equal(model.kvCache, 'bf16');
  assert.deepEqual(await asrTokens(model, frames), expected);
  await model.dispose();
  const plain = await loadStt();
  assert.equal(plain.kvCache, 'f32', 'the default is exact');
  await plain.dispose();
  await assert.rejects(loadStt({ kvCache: 'f16' }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' &&
    /option 'kvCache' must be 'f32' or 'bf16', got 'f16'/.test(e.message));
});

test('generated audio goes from the engine straight to a playback port (duplex stream and TTS speech)', async () => {
  const model = await loadLm();
  // Stand-in for an AudioPlayback: all the engine needs from it is a port (channel()).
  const fakePlayback = () => {
    const { port1, port2 } = new MessageChannel();
    const frames = [];
    port1.onmessage = (e) => frames.push(e.data.samples);
    return { channel: () => port2, frames, close: () => port1.close() };
  };
  const duplex = await model.createDuplexSession();
  const out = fakePlayback();
  const { port1, port2 } = new MessageChannel();
  const stream = await duplex.connect(port2, { playback: out });
  const results = [];
  stream.addEventListener('result', (e) => results.push(e.detail));
  const audio = chirp(6);
  for (let f = 0; f < 6; f++) port1.postMessage(audio.slice(f * FRAME_SIZE, (f + 1) * FRAME_SIZE));
  await stream.whenProcessed(6);
  await stream.close();
  port1.close();
  await new Promise((r) => setTimeout(r, 20));
  const withAudio = results.filter((r) => r.audio);
  assert.ok(withAudio.length >= 4);
  assert.ok(results.every((r) => r.pcm === null), 'samples were moved to the playback port, not copied into results');
  assert.equal(out.frames.length, withAudio.length);
  assert.ok(out.frames.every((f) => f instanceof Float32Array && f.length === FRAME_SIZE));
  out.close();

  const tts = await model.createTtsSession();
  const speaker = fakePlayback();
  const speech = await tts.speak([20, 21, 22], { tailFrames: 3, playback: speaker });
  const end = await speech.ended;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(end.stats.framesProcessed, 6);
  assert.ok(speaker.frames.length >= 4 && speaker.frames.length <= 6);
  speaker.close();
  await model.dispose();
});

test('a frame tokenizer from a module runs in the engine thread and feeds the pipeline', async () => {
  const module = new URL('./fixtures/sign-tokenizer.mjs', import.meta.url).href;
  const model = await loadStt({ frameTokenizer: { module, options: { codebooks: 8, card: 32 } } });
  assert.deepEqual(model.frameTokenizer, { kind: 'sign-count', frameSize: 1920, codebooks: 8, canDecode: false });
  const session = await model.createAsrSession();
  const frame = new Float32Array(FRAME_SIZE).map((_, i) => (i < 960 ? 1 : -1));  // first half positive
  const r = await session.pushAudio(frame);
  assert.deepEqual(Array.from(r.codes), [31, 31, 31, 31, 0, 0, 0, 0]);
  assert.equal(r.step, 1);
  await model.dispose();
});

test('without a frame tokenizer a model takes code frames; audio is a clear error, band-energy is gone', async () => {
  const model = await loadStt();
  const asr = await model.createAsrSession();
  assert.equal((await asr.pushFrame(new Int32Array(8))).step, 1);
  const noAudio = (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE' && /without a frame tokenizer.*pushFrame.*type: 'mimi'/.test(e.message);
  await assert.rejects(asr.pushAudio(new Float32Array(FRAME_SIZE)), noAudio);
  const { port2 } = new MessageChannel();
  await assert.rejects(asr.connect(port2), noAudio);
  port2.close();
  assert.equal((await asr.pushFrame(new Int32Array(8))).step, 2, 'the refusals changed nothing');
  const transcriber = await model.createTranscriber();
  await assert.rejects(transcriber.pushAudio(new Float32Array(FRAME_SIZE)), noAudio);
  await model.dispose();

  // TTS without a codec: codes come out, no samples.
  const lm = await loadModel({ config: path('lm/config.json'), weights: path('lm/weights.safetensors') });
  const tts = await lm.createTtsSession();
  let audio = 0;
  for (let i = 0; i < 5; i++) {
    const r = await tts.pushText(10 + i);
    if (r.audio) audio++;
    assert.equal(r.pcm, null);
  }
  assert.ok(audio > 0);
  await lm.dispose();

  for (const frameTokenizer of ['band-energy', { type: 'band-energy' }]) {
    await assert.rejects(loadStt({ frameTokenizer }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' &&
      /'band-energy' placeholder is no longer part of the package; expected \{type: 'mimi', config, weights\}/.test(e.message));
  }
});
