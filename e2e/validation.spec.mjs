// Issue 30 in Chromium, through the package's worker: a refused call is a KyutaiError with
// its code and changes nothing (the session then equals an untouched twin), and
// loadModel({signal}) aborts a stalled load with ABORTED; a stream failing mid-load is NETWORK.
import { test, expect, openHarness } from './fixtures.mjs';

// Both builds: the plain one, and the threaded one on the cross-origin-isolated /coi/ page
// (its Embind conversions and worker are those of kyutai-mt*.mjs).
for (const [build, url, backend] of [['single-threaded', undefined, 'wasm-simd'], ['threaded', '/coi/e2e/pages/harness.html', 'wasm-simd-threads']]) {
test(`worker, ${build} build: hostile arguments are refused before the model steps; abort and stream errors are KyutaiErrors`, async ({ page }) => {
  await openHarness(page, url);
  const out = await page.evaluate(async () => {
    const { kyutai, STT } = harness;
    const errorOf = async (run) => {
      try {
        await run();
        return 'accepted';
      } catch (e) {
        return `${e instanceof kyutai.KyutaiError ? 'KyutaiError' : e?.constructor?.name} ${e.code}: ${e.message}`;
      }
    };
    const LM = new URL('../lm/', STT);
    const options = { config: new URL('config.json', LM), weights: new URL('weights.safetensors', LM) };
    const model = await kyutai.loadModel(options);
    const target = await model.createTtsSession({ sampling: true, seed: 4 });
    const twin = await model.createTtsSession({ sampling: true, seed: 4 });
    const refused = [];
    for (const run of [() => target.pushText(1.5), () => target.pushText(null), () => target.pushText('5'), () => target.speak([5, 1.5]),
      () => target.speak([5], { tailFrames: NaN }), () => model.createTtsSession({ seed: -1 })]) {
      refused.push(await errorOf(run));
    }
    const next = async (s) => JSON.stringify([await s.pushText(5), await s.pushText(-1)], (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v));
    const same = (await next(target)) === (await next(twin));

    const bytes = new Uint8Array(await (await fetch(options.weights)).arrayBuffer());
    const partial = (end) => {
      let sent = false;
      return new ReadableStream({
        pull(c) {
          if (!sent) {
            sent = true;
            c.enqueue(bytes.slice(0, 4096));
            return undefined;
          }
          if (end === 'error') c.error(new Error('connection reset'));
          return new Promise(() => {});
        },
      });
    };
    const controller = new AbortController();
    const aborted = await errorOf(() => kyutai.loadModel({ ...options, weights: partial('stall'), signal: controller.signal, onProgress: () => controller.abort() }));
    const early = await errorOf(() => kyutai.loadModel({ ...options, signal: AbortSignal.abort() }));
    const broken = await errorOf(() => kyutai.loadModel({ ...options, weights: partial('error') }));
    return { inWorker: model.inWorker, backend: model.backend, refused, same, aborted, early, broken };
  });
  expect(out.inWorker).toBe(true);
  expect(out.backend).toBe(backend);
  expect(out.refused).toEqual([
    'KyutaiError INVALID_ARGUMENT: pushText(token): expected an integer >= -1 and <= 2147483647, got 1.5',
    'KyutaiError INVALID_ARGUMENT: pushText(token): expected an integer >= -1 and <= 2147483647, got null',
    'KyutaiError INVALID_ARGUMENT: pushText(token): expected an integer >= -1 and <= 2147483647, got "5"',
    'KyutaiError INVALID_ARGUMENT: speak(tokens)[1]: expected an integer >= -1 and <= 2147483647, got 1.5',
    'KyutaiError INVALID_ARGUMENT: speak(options).tailFrames: expected an integer >= 0 and <= 100000, got NaN',
    'KyutaiError INVALID_ARGUMENT: createSession(options).seed: expected an integer >= 0 and <= 9007199254740991, got -1',
  ]);
  expect(out.same).toBe(true);
  expect(out.aborted).toMatch(/^KyutaiError ABORTED: weights: loading was aborted/);
  expect(out.early).toBe('KyutaiError ABORTED: loadModel: loading was aborted');
  // A transferred stream's error overtakes the chunks still queued in it: 0 or 4096 bytes.
  expect(out.broken).toMatch(/^KyutaiError NETWORK: weights: reading failed after (0|4096) bytes: .*connection reset/);
});
}
