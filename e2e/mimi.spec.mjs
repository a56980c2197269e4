// Mimi in the browser, end to end, on the demo bundle (dist/models/default/, made by
// scripts/make-demo-bundle.sh): Chromium's fake microphone plays the test speech (espeak-ng +
// sox, made by global-setup.mjs), the capture worklet cuts it into 80 ms frames and posts them
// to the engine's worker, where Mimi encodes each frame and the ASR session steps on the
// codes; words come back decoded by the bundle's SentencePiece tokenizer. Also: the worker's
// Mimi gives bit for bit the codes the engine gives in Node, and TTS audio codes decoded by
// Mimi in the worker reach the playback worklet intact.
import fs from 'node:fs';
import { test, expect, openHarness } from './fixtures.mjs';
import { MICROPHONE_LAUNCH } from './env.mjs';
import { createEngine } from '../web/src/engine.js';

// This file needs the fake capture device (the 'browser' project runs it; launch options are
// per worker, so these apply to this file only).
test.use({ launchOptions: MICROPHONE_LAUNCH });

const BUNDLE = new URL('../dist/models/default/', import.meta.url);
const bundle = JSON.parse(fs.readFileSync(new URL('bundle.json', BUNDLE)));
const sttConfig = JSON.parse(fs.readFileSync(new URL(bundle.config, BUNDLE)));
const PADDING = [sttConfig.existing_text_padding_id, 0];  // padding and end-of-padding ids

// Loads the bundle in the page (through the package's worker) as window.bundleModel.
async function loadBundle(page, harnessUrl) {
  await openHarness(page, harnessUrl);
  return page.evaluate(async (b) => {
    const base = new URL('/dist/models/default/', location.href);
    const model = await harness.kyutai.loadModel({
      config: new URL(b.config, base),
      weights: new URL(b.weights, base),
      tokenizer: new URL(b.tokenizer, base),
      frameTokenizer: { type: 'mimi', config: new URL(b.mimi.config, base), weights: new URL(b.mimi.weights, base) },
    });
    window.bundleModel = model;
    return { inWorker: model.inWorker, frameTokenizer: model.frameTokenizer, engine: model.engine, backend: model.backend, threads: model.threads, nQ: model.config.nQ, vocab: model.textTokenizer?.vocabSize };
  }, bundle);
}

test('fake microphone -> capture worklet -> Mimi in the worker -> ASR -> words', async ({ page }) => {
  const info = await loadBundle(page);
  expect(info.inWorker).toBe(true);
  expect(info.engine.mimi).toBe(true);
  expect(info.frameTokenizer).toEqual({ kind: 'mimi', frameSize: 1920, codebooks: 8, canDecode: true, cardinality: 32, threads: 1, source: 'network' });
  expect(info.vocab).toBe(sttConfig.text_card);

  const s = await page.evaluate(async () => {
    const K = harness.kyutai;
    const model = window.bundleModel;
    const session = await model.createAsrSession();
    const context = new AudioContext({ sampleRate: K.SAMPLE_RATE });
    await context.resume();
    const capture = await K.createCapture(context, { source: 'microphone' });
    const stream = await session.connect(capture, { maxQueuedFrames: 25 });
    const results = [];
    stream.addEventListener('result', (e) => results.push(e.detail));
    // 40 frames: 3.2 s of the looped speech in real time.
    await stream.whenProcessed(40);
    const captureStats = await capture.dispose();  // final: nothing is posted after this
    const end = await stream.close();
    await context.close();
    await session.dispose();
    const words = [...results.flatMap((r) => r.words), ...end.words];
    return {
      captureStats, stats: end.stats, error: stream.error && stream.error.message,
      results: results.map((r) => ({ step: r.step, seq: r.seq, codes: Array.from(r.codes), textToken: r.textToken, computeMs: r.timing.computeMs })),
      words: words.map((w) => ({ text: w.text, tokens: Array.from(w.tokens), start: w.start })),
      text: await model.textTokenizer.decode(Int32Array.from(words.flatMap((w) => Array.from(w.tokens)))),
    };
  });
  expect(s.error).toBeNull();

  // Counts agree along the whole path: worklet -> worker queue -> Mimi -> session.
  expect(s.captureStats.sampleRate).toBe(24000);
  expect(s.stats.framesReceived).toBeLessThanOrEqual(s.captureStats.framesPosted);
  expect(s.stats.framesProcessed + s.stats.dropped + s.stats.queued).toBe(s.stats.framesReceived);
  expect(s.results.length).toBe(s.stats.framesProcessed);
  expect(s.results.length + s.stats.dropped).toBeGreaterThanOrEqual(40);
  expect(s.results.length).toBeGreaterThanOrEqual(20);  // Mimi + the tiny LM take about a millisecond a frame
  // One LM step per processed frame, in order; sequence numbers only skip dropped frames.
  expect(s.results.map((r) => r.step)).toEqual(s.results.map((_, i) => i + 1));
  for (let i = 1; i < s.results.length; i++) expect(s.results[i].seq).toBeGreaterThan(s.results[i - 1].seq);
  expect(s.results.at(-1).seq + 1 - s.results.length).toBe(s.stats.dropped);

  // Mimi codes: the model's 8 codebooks, every code a valid audio token (0..31), changing
  // with the speech on every codebook.
  for (const r of s.results) {
    expect(r.codes).toHaveLength(8);
    for (const c of r.codes) expect(Number.isInteger(c) && c >= 0 && c < 32).toBe(true);
    expect(r.textToken >= 0 && r.textToken < sttConfig.text_card).toBe(true);
  }
  expect(new Set(s.results.map((r) => r.codes.join(','))).size).toBeGreaterThan(s.results.length / 3);
  for (let k = 0; k < 8; k++) expect(new Set(s.results.map((r) => r.codes[k])).size, `codebook ${k}`).toBeGreaterThan(3);

  // Words: decoded by the bundle's SentencePiece tokenizer, never holding a padding id.
  expect(s.words.length).toBeGreaterThan(0);
  for (const w of s.words) {
    expect(w.tokens.length).toBeGreaterThan(0);
    expect(w.tokens.some((t) => PADDING.includes(t))).toBe(false);
    expect(typeof w.text).toBe('string');
    expect(w.text).not.toMatch(/<pad>|<unk>|<s>|<\/s>/);
  }
  for (let i = 1; i < s.words.length; i++) expect(s.words[i].start).toBeGreaterThanOrEqual(s.words[i - 1].start);
  expect(s.text.replaceAll(' ', '')).toBe(s.words.map((w) => w.text).join('').replaceAll(' ', ''));
});

// The same Mimi streaming codes in the page's worker (single-threaded, and the pthreads build
// on the cross-origin-isolated /coi/ page, where Mimi and the LM each run on several
// threads) as in Node, frame for frame.
for (const [name, harnessUrl] of [['single-threaded', '/e2e/pages/harness.html'], ['threaded /coi/', '/coi/e2e/pages/harness.html']]) {
  test(`the worker's Mimi (${name}) gives exactly the codes the engine gives in Node`, async ({ page }) => {
    const info = await loadBundle(page, harnessUrl);
    if (name === 'single-threaded') {
      expect(info.backend).toBe('wasm-simd');
      expect(info.frameTokenizer.threads).toBe(1);
    } else {
      expect(info.backend).toBe('wasm-simd-threads');
      expect(info.threads).toBeGreaterThan(1);
      expect(info.frameTokenizer.threads).toBeGreaterThan(1);
    }
    const r = await page.evaluate(async () => {
      const model = window.bundleModel;
      const samples = await harness.decode('speech.wav');  // 24 kHz already: no resampling
      const session = await model.createAsrSession();
      const run = await harness.offlineCapture(samples, { session });
      await session.dispose();
      await model.dispose();
      return { samples: Array.from(samples), posted: run.framesPosted, codes: run.results.map((x) => Array.from(x.codes)), steps: run.results.map((x) => x.step) };
    });
    expect(r.codes.length).toBe(r.posted);
    expect(r.posted).toBe(Math.ceil(r.samples.length / 1920));
    expect(r.steps).toEqual(r.steps.map((_, i) => i + 1));

    // The same frames through the same Mimi, in Node.
    const engine = await createEngine();
    const mimi = await engine.loadMimi(fs.readFileSync(new URL(bundle.mimi.config, BUNDLE), 'utf8'), fs.readFileSync(new URL(bundle.mimi.weights, BUNDLE)));
    const stream = mimi.createStream(8);
    const samples = Float32Array.from(r.samples);
    const expected = [];
    for (let t = 0; t < r.posted; t++) {
      const frame = new Float32Array(1920);
      frame.set(samples.subarray(t * 1920, (t + 1) * 1920));  // the last frame padded with silence
      expected.push(Array.from(stream.encodeStep(frame)));
    }
    mimi.dispose();
    expect(r.codes).toEqual(expected);
    expect(new Set(expected.map((c) => c.join(','))).size).toBeGreaterThan(r.posted / 2);
  });
}

test('TTS: generated codes -> Mimi decode in the worker -> the playback worklet plays them', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const K = harness.kyutai;
    const lm = new URL('/tests/data/lm/', location.href);  // Moshi-like: writes 8 codebooks of 32
    const mimi = new URL('/tests/data/mimi/', location.href);
    const model = await K.loadModel({
      config: new URL('config.json', lm), weights: new URL('weights.safetensors', lm),
      frameTokenizer: { type: 'mimi', config: new URL('config.json', mimi), weights: new URL('weights.safetensors', mimi) },
    });
    const tokens = [5, 9, 12, 3, 3, 20, 3, 3, 3, 3];
    // The decoded frames, as results (greedy generation: the same every run)...
    const plain = await model.createTtsSession();
    const expected = [];
    for await (const step of await plain.speak(tokens)) if (step.pcm) expected.push(Array.from(step.pcm));
    await plain.dispose();
    // ...and sent straight from the worker to a playback worklet, then rendered.
    const context = new OfflineAudioContext(1, (tokens.length + 2) * K.FRAME_SIZE, K.SAMPLE_RATE);
    const playback = await K.createPlayback(context, { prebufferFrames: 1 });
    const tts = await model.createTtsSession();
    const stream = await tts.speak(tokens, { playback });
    const results = [];
    for await (const step of stream) results.push({ audio: step.audio && Array.from(step.audio), pcm: step.pcm });
    let stats = await playback.stats();
    for (let i = 0; i < 100 && stats.received < expected.length; i++) stats = await playback.stats();
    playback.end();
    const out = (await context.startRendering()).getChannelData(0);
    await model.dispose();
    let mismatches = 0;
    expected.forEach((f, k) => f.forEach((v, i) => { if (out[k * K.FRAME_SIZE + i] !== Math.fround(v)) mismatches++; }));
    return { expected: expected.length, results, received: stats.received, mismatches, peak: Math.max(...expected.flat().map(Math.abs)) };
  });
  expect(r.expected).toBeGreaterThanOrEqual(8);  // one frame per token once the delays filled
  const withAudio = r.results.filter((x) => x.audio);
  expect(withAudio).toHaveLength(r.expected);
  for (const x of withAudio) {
    expect(x.audio).toHaveLength(8);
    for (const c of x.audio) expect(c >= 0 && c < 32).toBe(true);
    expect(x.pcm).toBeNull();  // moved to the playback worklet, not sent to the page
  }
  expect(r.received).toBe(r.expected);
  expect(r.peak).toBeGreaterThan(0);
  expect(r.mismatches).toBe(0);  // rendered audio = Mimi's decoded frames, back to back
});

// Mimi's weights by URL go through the model cache like the LM's: the second load in the same
// origin reads them from OPFS with no request, and the codec gives the same codes.
test('a second loadModel takes Mimi from the model cache: no request for its weights, same codes', async ({ page }) => {
  const mimiRequests = [];
  page.on('request', (r) => {
    if (r.url().endsWith(`/dist/models/default/${bundle.mimi.weights}`)) mimiRequests.push(r.url());
  });
  const first = await loadBundle(page);
  expect(first.frameTokenizer.source).toBe('network');
  expect(mimiRequests).toHaveLength(1);
  const codesOf = () => page.evaluate(async () => {
    const session = await window.bundleModel.createAsrSession();
    const samples = Float32Array.from({ length: 1920 * 4 }, (_, i) => 0.3 * Math.sin(i / 17) * Math.sin(i / 900));
    const codes = [];
    for (let f = 0; f < 4; f++) codes.push(Array.from((await session.pushAudio(samples.subarray(f * 1920, (f + 1) * 1920))).codes));
    await session.dispose();
    return codes;
  });
  const firstCodes = await codesOf();
  const entries = await page.evaluate(async () => {
    await window.bundleModel.dispose();
    return (await harness.kyutai.listCachedModels()).filter((e) => e.kind === 'mimi').map((e) => ({ format: e.format, bytes: e.bytes }));
  });
  expect(entries).toHaveLength(1);
  expect(entries[0].format).toBe('mimi');
  const second = await page.evaluate(async (b) => {
    const base = new URL('/dist/models/default/', location.href);
    window.bundleModel = await harness.kyutai.loadModel({
      config: new URL(b.config, base), weights: new URL(b.weights, base), tokenizer: new URL(b.tokenizer, base),
      frameTokenizer: { type: 'mimi', config: new URL(b.mimi.config, base), weights: new URL(b.mimi.weights, base) },
    });
    return window.bundleModel.frameTokenizer;
  }, bundle);
  expect(second.source).toBe('cache');
  expect(mimiRequests).toHaveLength(1);
  expect(await codesOf()).toEqual(firstCodes);
});
