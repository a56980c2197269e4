// The pthreads build on a cross-origin-isolated page (served under /coi/): it must run with
// more than one thread and give exactly what the single-threaded build gives.
import { test, expect, openHarness, preparePage } from './fixtures.mjs';

async function runAll(page) {
  return page.evaluate(async () => {
    const model = await harness.loadStt();
    const { frames, expected } = await harness.sttVectors();
    const codes = await harness.asrOnCodes(model, frames);
    const samples = await harness.decode('speech.wav');
    const session = await model.createAsrSession();
    const audio = await harness.offlineCapture(samples, { session });
    await session.dispose();
    const info = { backend: model.backend, threads: model.threads, engine: model.engine, isolated: crossOriginIsolated, sab: typeof SharedArrayBuffer };
    await model.dispose();
    return { info, expected, tokens: codes.tokens, vad: codes.vad, audioCodes: audio.results.map((x) => Array.from(x.codes)), audioTokens: audio.results.map((x) => x.textToken) };
  });
}

test('the threaded build runs on the /coi/ page and matches the single-threaded build', async ({ page, context }) => {
  await openHarness(page, '/coi/e2e/pages/harness.html');
  const mt = await runAll(page);
  expect(mt.info.isolated).toBe(true);
  expect(mt.info.sab).toBe('function');
  expect(mt.info.backend).toBe('wasm-simd-threads');
  expect(mt.info.engine.threaded).toBe(true);
  expect(mt.info.threads).toBeGreaterThan(1);
  expect(mt.tokens).toEqual(mt.expected);  // Kyutai's reference tokens

  const plain = await context.newPage();
  const errors = await preparePage(plain);
  await openHarness(plain);
  const st = await runAll(plain);
  expect(st.info.isolated).toBe(false);
  expect(st.info.backend).toBe('wasm-simd');
  expect(st.info.threads).toBe(1);
  expect(mt.tokens).toEqual(st.tokens);
  expect(mt.vad.length).toBe(st.vad.length);
  expect(Math.max(...mt.vad.map((v, i) => Math.abs(v - st.vad[i])))).toBeLessThanOrEqual(1e-6);
  expect(mt.audioCodes).toEqual(st.audioCodes);
  expect(mt.audioTokens).toEqual(st.audioTokens);
  await plain.close();
  expect(errors).toEqual([]);
});

test('the demo under /coi/ shows the threaded backend and its thread count', async ({ page }) => {
  await page.goto('/coi/web/demo/');
  await page.waitForFunction(() => window.kyutaiDemo?.ready || window.kyutaiDemo?.error, null, { timeout: 60_000 });
  await expect(page.locator('#backend')).toHaveText('wasm-simd-threads');
  const threads = Number(await page.locator('#threads').textContent());
  expect(threads).toBeGreaterThan(1);
  await expect(page.locator('#isolation')).toContainText('cross-origin isolated');
});
