// Where the engine's files come from (issue 28): `assetBase` loads the automatic build from
// another folder (here the package's dist/ under another path), and a `moduleUrl` override on
// a cross-origin isolated page reports the build that really runs, not the one the page
// could run. A missing module is a NOT_FOUND naming it.
import { test, expect } from './fixtures.mjs';

async function load(page, options) {
  return page.evaluate(async (opts) => {
    const { loadModel } = await import('/coi/web/src/index.js');
    try {
      const model = await loadModel({ config: '/tests/data/stt/config.json', weights: '/tests/data/stt/weights.safetensors', ...opts });
      const info = { build: model.engine.build, backend: model.backend, threads: model.threads, threaded: model.engine.threaded };
      await model.dispose();
      return info;
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  }, options);
}

test('on an isolated page, moduleUrl of the plain build reports that build, not the threaded one', async ({ page }) => {
  await page.goto('/coi/e2e/pages/harness.html');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await load(page, {})).toMatchObject({ build: 'kyutai-mt-relaxed', backend: 'wasm-simd-threads', threaded: true });
  expect(await load(page, { moduleUrl: '/coi/dist/kyutai.mjs' })).toEqual({ build: 'kyutai', backend: 'wasm-simd', threads: 1, threaded: false });
});

test('assetBase loads the automatically chosen build from that folder', async ({ page }) => {
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto('/e2e/pages/harness.html');
  expect(await load(page, { assetBase: '/coi/dist/' })).toMatchObject({ build: 'kyutai-relaxed', backend: 'wasm-simd' });
  expect(requested).toContain('/coi/dist/kyutai-relaxed.mjs');
  expect(requested).toContain('/coi/dist/kyutai-relaxed.wasm');
  expect(requested.filter((p) => p.startsWith('/dist/'))).toEqual([]);
});

test('a moduleUrl that is not there is NOT_FOUND naming it', async ({ page }) => {
  await page.goto('/e2e/pages/harness.html');
  const r = await load(page, { moduleUrl: '/dist/no-such-build.mjs' });
  expect(r.error).toMatchObject({ name: 'KyutaiError', code: 'NOT_FOUND' });
  expect(r.error.message).toContain('/dist/no-such-build.mjs');
});
