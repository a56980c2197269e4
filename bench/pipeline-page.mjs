// Page side of the pipeline benchmark (bench/pipeline.mjs): what an app runs, through the
// package's public API only: loadModel (engine in its worker, Mimi as the frame tokenizer,
// the text tokenizer), then a Transcriber fed 24 kHz PCM one 80 ms frame at a time, words
// out. Each pushAudio is timed from this thread, so the figure includes the worker round trip.
import * as kyutai from '../web/src/index.js';

const FRAME = kyutai.FRAME_SIZE;

// 16-bit PCM mono WAV -> Float32Array (the 'data' chunk found by walking the chunks).
async function readWav(url) {
  const view = new DataView(await (await fetch(url)).arrayBuffer());
  for (let at = 12; at + 8 <= view.byteLength;) {
    const id = String.fromCharCode(...[0, 1, 2, 3].map((i) => view.getUint8(at + i)));
    const size = view.getUint32(at + 4, true);
    if (id === 'data') {
      const samples = new Float32Array(size / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(at + 8 + 2 * i, true) / 32768;
      return samples;
    }
    at += 8 + size + (size & 1);
  }
  throw new Error(`${url}: no data chunk`);
}

// Frame n of the speech, looped.
function frameOf(speech, n) {
  const out = new Float32Array(FRAME);
  for (let i = 0; i < FRAME; i++) out[i] = speech[(n * FRAME + i) % speech.length];
  return out;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Pushes `count` frames from frame `from` on, one pushAudio each; returns each call's ms.
async function pushFrames(transcriber, speech, from, count) {
  const ms = [];
  for (let n = from; n < from + count; n++) {
    const samples = frameOf(speech, n);
    const t0 = performance.now();
    await transcriber.pushAudio(samples);
    ms.push(performance.now() - t0);
  }
  return ms;
}

// Until the first word event: the speech file pushed frame by frame as fast as the engine takes
// it, then flush() (the model's delay of silence) if no word came out earlier.
async function firstWord(model, speech, t0) {
  const transcriber = await model.createTranscriber();
  let word = null;
  transcriber.addEventListener('word', (e) => {
    word ??= { at: performance.now() - t0, text: e.detail.text, start: e.detail.start, end: e.detail.end };
  }, { once: true });
  const frames = Math.ceil(speech.length / FRAME);
  let pushed = 0;
  for (; pushed < frames && !word; pushed++) await transcriber.pushAudio(frameOf(speech, pushed));
  const atFlush = !word;
  if (!word) await transcriber.flush();
  await transcriber.dispose();
  return word ? { ...word, framesPushed: pushed, atFlush } : { at: null, framesPushed: pushed, atFlush };
}

// One model load and its measurements. options: config, weights, tokenizer, mimi {config,
// weights}, format, threads, speechUrl, frames (timed, at the start of a stream), warmupFrames
// (a throwaway stream first, so the timed one runs optimized code), fullWindow (also time
// `frames` frames once the attention windows are full: context + 10 frames in), firstWord.
export async function run(o) {
  const speech = await readWav(o.speechUrl);
  const t0 = performance.now();
  let lmMs = null;  // the LM's last progress event (its weights in, converted, cached): Mimi and the tokenizer follow
  const model = await kyutai.loadModel({
    config: o.config, weights: o.weights, tokenizer: o.tokenizer, format: o.format, threads: o.threads,
    frameTokenizer: { type: 'mimi', config: o.mimi.config, weights: o.mimi.weights },
    onProgress: (p) => { if (p.phase !== 'ready') lmMs = performance.now() - t0; },
  });
  const out = {
    loadMs: performance.now() - t0, lmMs, source: model.load?.source, threads: model.threads, backend: model.backend,
    build: model.engine?.build, crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
  try {
    if (o.firstWord) out.firstWord = { ...(await firstWord(model, speech, t0)), loadMs: out.loadMs, lmMs };
    const warm = await model.createTranscriber();
    await pushFrames(warm, speech, 0, o.warmupFrames);
    await warm.dispose();

    const transcriber = await model.createTranscriber();
    let words = 0;
    transcriber.addEventListener('word', () => words++);
    const start = await pushFrames(transcriber, speech, 0, o.frames);
    out.msPerFrame = median(start);
    out.frames = o.frames;
    if (o.fullWindow) {
      // Kyutai's STT window (context 750) is the longest: past it, every attention is full.
      const fill = model.config.context + 10 - o.frames;
      const t1 = performance.now();
      await pushFrames(transcriber, speech, o.frames, fill);
      out.fillMsPerFrame = (performance.now() - t1) / fill;
      out.msPerFrameFullWindow = median(await pushFrames(transcriber, speech, o.frames + fill, o.frames));
    }
    out.words = words;
    await transcriber.dispose();
  } finally {
    await model.dispose();
  }
  return out;
}
