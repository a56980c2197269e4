// Browser behaviour of the package through a bare test page (e2e/pages/harness.html):
// worklets under an OfflineAudioContext (deterministic, faster than real time), the worker
// RPC path, errors across the worker boundary, every kind of weight source.
import { test, expect, openHarness, wavSamples } from './fixtures.mjs';

test('the capture worklet cuts audio into 1920-sample frames, bit for bit', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const samples = await harness.decode('speech.wav');
    const { frames, framesPosted } = await harness.offlineCapture(samples);
    const F = harness.kyutai.FRAME_SIZE;
    let mismatches = 0;
    frames.forEach((f, k) => {
      for (let i = 0; i < F; i++) if (f.samples[i] !== (samples[k * F + i] ?? 0)) mismatches++;
    });
    return { length: samples.length, framesPosted, seqs: frames.map((f) => f.seq), sizes: [...new Set(frames.map((f) => f.samples.length))], mismatches };
  });
  expect(r.length).toBe(wavSamples());
  expect(r.framesPosted).toBe(Math.ceil(r.length / 1920));  // the tail after the clip ends counts as silence
  expect(r.seqs).toEqual(r.seqs.map((_, i) => i));
  expect(r.sizes).toEqual([1920]);
  expect(r.mismatches).toBe(0);
});

test('an OfflineAudioContext run is deterministic: same frames, same tokens, twice, and as pushAudio', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const model = await harness.loadStt();
    const samples = await harness.decode('speech.wav');
    const run = async () => {
      const session = await model.createAsrSession();
      const out = await harness.offlineCapture(samples, { session });
      await session.dispose();
      return { framesPosted: out.framesPosted, stats: out.streamStats, codes: out.results.map((x) => Array.from(x.codes)), tokens: out.results.map((x) => x.textToken), steps: out.results.map((x) => x.step) };
    };
    const a = await run();
    const b = await run();
    // The same frames pushed one by one, without Web Audio.
    const session = await model.createAsrSession();
    const direct = { codes: [], tokens: [] };
    const F = harness.kyutai.FRAME_SIZE;
    for (let k = 0; k < a.framesPosted; k++) {
      const frame = new Float32Array(F);
      frame.set(samples.subarray(k * F, (k + 1) * F));
      const x = await session.pushAudio(frame);
      direct.codes.push(Array.from(x.codes));
      direct.tokens.push(x.textToken);
    }
    await model.dispose();
    return { a, b, direct, inWorker: model.inWorker };
  });
  expect(r.inWorker).toBe(true);
  expect(r.a.codes.length).toBe(r.a.framesPosted);
  expect(r.a.stats).toMatchObject({ framesProcessed: r.a.framesPosted, dropped: 0 });
  expect(r.a.steps).toEqual(r.a.steps.map((_, i) => i + 1));
  expect(new Set(r.a.codes.map(String)).size).toBeGreaterThan(10);  // not a constant signal
  expect(r.b.codes).toEqual(r.a.codes);
  expect(r.b.tokens).toEqual(r.a.tokens);
  expect(r.direct.codes).toEqual(r.a.codes);
  expect(r.direct.tokens).toEqual(r.a.tokens);
});

test('when frames come faster than inference, the queue stays bounded and drops are counted', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const model = await harness.loadStt();
    const samples = await harness.decode('speech.wav');
    const session = await model.createAsrSession();
    // Offline rendering delivers the whole clip within milliseconds: a burst far beyond 2 frames.
    const out = await harness.offlineCapture(samples, { session, maxQueuedFrames: 2 });
    await model.dispose();
    return { posted: out.framesPosted, stats: out.streamStats, seqs: out.results.map((x) => x.seq), steps: out.results.map((x) => x.step) };
  });
  expect(r.stats.framesReceived).toBe(r.posted);
  expect(r.stats.dropped).toBeGreaterThan(0);
  expect(r.stats.framesProcessed + r.stats.dropped).toBe(r.posted);
  expect(r.seqs.length).toBe(r.stats.framesProcessed);
  expect(r.steps).toEqual(r.steps.map((_, i) => i + 1));
  for (let i = 1; i < r.seqs.length; i++) expect(r.seqs[i]).toBeGreaterThan(r.seqs[i - 1]);
  expect(r.seqs.at(-1)).toBe(r.posted - 1);  // the oldest go first: the newest frame is kept
});

test('the playback worklet plays frames back to back and reports underruns', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const { createPlayback, FRAME_SIZE: F } = harness.kyutai;
    const frameOf = (k) => Float32Array.from({ length: F }, (_, i) => ((k + 1) * 0.1) * Math.sin(i / 7) + i / F / 100);
    const render = async (ended) => {
      const context = new OfflineAudioContext(1, 8 * F, 24000);
      const playback = await createPlayback(context, { prebufferFrames: 2 });
      for (let k = 0; k < 5; k++) playback.push(frameOf(k));
      if (ended) playback.end();
      const queued = await playback.stats();  // the frames are in the worklet before rendering starts
      const out = (await context.startRendering()).getChannelData(0);
      const after = await playback.stats();
      let mismatches = 0;
      for (let k = 0; k < 5; k++) {
        const f = frameOf(k);
        for (let i = 0; i < F; i++) if (out[k * F + i] !== f[i]) mismatches++;
      }
      const tailSilent = out.subarray(5 * F).every((v) => v === 0);
      return { queued: queued.queued, mismatches, tailSilent, after };
    };
    return { open: await render(false), ended: await render(true) };
  });
  expect(r.open.queued).toBe(5);
  expect(r.open.mismatches).toBe(0);
  expect(r.open.tailSilent).toBe(true);
  expect(r.open.after).toMatchObject({ received: 5, framesPlayed: 5, samplesPlayed: 5 * 1920, underruns: 1, queued: 0 });
  expect(r.ended.mismatches).toBe(0);
  expect(r.ended.after).toMatchObject({ framesPlayed: 5, underruns: 0 });  // running dry after end() is not an underrun
});

test('engine errors cross the worker boundary with name, code and message', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const { KyutaiError } = harness.kyutai;
    const describe = (e) => ({ isKyutai: e instanceof KyutaiError, isError: e instanceof Error, name: e.name, code: e.code, message: e.message });
    const model = await harness.loadStt();
    const session = await model.createAsrSession();
    const out = {};
    out.frame = await session.pushFrame(new Int32Array(3)).catch(describe);
    out.stillWorks = (await session.pushFrame(new Int32Array(8))).step;
    out.audio = await session.pushAudio(new Float32Array(5)).catch(describe);
    await model.dispose();
    out.disposed = await session.pushFrame(new Int32Array(8)).catch(describe);
    const bytes = new Uint8Array(await (await fetch(new URL('weights.safetensors', harness.STT))).arrayBuffer());
    out.truncated = await harness.loadStt({ weights: bytes.subarray(0, 5000) }).catch(describe);
    out.missing = await harness.loadStt({ weights: new URL('nothing.safetensors', harness.STT) }).catch(describe);
    out.config = await harness.loadStt({ config: { dim: 64 } }).catch(describe);
    out.object = await harness.loadStt({ frameTokenizer: { frameSize: 1920, codebooks: 8, encode: () => new Int32Array(8) } }).catch(describe);
    return out;
  });
  expect(r.frame).toEqual({ isKyutai: true, isError: true, name: 'KyutaiError', code: 'INVALID_ARGUMENT', message: 'expected 8 codebooks in the audio frame, got 3' });
  expect(r.stillWorks).toBe(1);
  expect(r.audio).toMatchObject({ isKyutai: true, code: 'INVALID_ARGUMENT' });
  expect(r.audio.message).toContain('1920 samples');
  expect(r.disposed).toMatchObject({ isKyutai: true, code: 'INVALID_STATE' });
  expect(r.truncated).toMatchObject({ isKyutai: true, code: 'INVALID_CHECKPOINT' });
  expect(r.missing.message).toContain('404');
  expect(r.config).toMatchObject({ isKyutai: true, code: 'INVALID_CONFIG' });
  expect(r.object).toMatchObject({ isKyutai: true, code: 'INVALID_ARGUMENT' });
  expect(r.object.message).toContain('cannot cross into the engine worker');
});

test('weights from a URL, ArrayBuffer, Blob, Response and ReadableStream, with progress; in the page too', async ({ page }) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const { frames, expected } = await harness.sttVectors();
    const url = new URL('weights.safetensors', harness.STT);
    const bytes = await (await fetch(url)).arrayBuffer();
    const sources = {
      url: () => url.href,
      arrayBuffer: () => bytes,
      typedArray: () => new Uint8Array(bytes),
      blob: () => new Blob([bytes]),
      response: () => new Response(bytes),
      stream: () => new Blob([bytes]).stream(),
    };
    const out = { size: bytes.byteLength, expected, runs: {} };
    for (const [name, make] of Object.entries(sources)) {
      const progress = [];
      const model = await harness.loadStt({ weights: make(), onProgress: (p) => progress.push(p) });
      // The last progress of the streaming phase ('download' for the URL, 'convert' for bytes), then 'ready'.
      const streaming = progress.filter((p) => p.phase === 'download' || p.phase === 'convert');
      const { phase, ...last } = streaming.at(-1);
      out.runs[name] = { tokens: (await harness.asrOnCodes(model, frames)).tokens, last, phase, final: progress.at(-1).phase, inWorker: model.inWorker };
      await model.dispose();
    }
    const inPage = await harness.loadStt({ worker: false });
    out.runs.inPage = { tokens: (await harness.asrOnCodes(inPage, frames)).tokens, inWorker: inPage.inWorker, last: { loaded: out.size, total: out.size, tensors: 27 }, phase: 'download', final: 'ready' };
    await inPage.dispose();
    return out;
  });
  for (const [name, run] of Object.entries(r.runs)) {
    expect(run.tokens, name).toEqual(r.expected);
    expect(run.last, name).toEqual({ loaded: r.size, total: r.size, tensors: 27 });
    expect(run.phase, name).toBe(name === 'url' || name === 'inPage' ? 'download' : 'convert');
    expect(run.final, name).toBe('ready');
    expect(run.inWorker, name).toBe(name !== 'inPage');
  }
});
