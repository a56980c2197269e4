// Real apps (issue 28): the package installed from `npm pack` into a small app (e2e/apps/src),
// built with Vite (base '/' and '/app/') and webpack 5 (publicPath 'auto'), once per run
// (e2e/apps/build.mjs), each served by scripts/serve.mjs at the root or under /app/, plain and
// cross-origin isolated, and the same app from Vite's dev server. In headless Chromium each
// loads the model by name from a hub-layout folder it serves and transcribes speech.wav. The
// words must be those the same model gives in Node, and the build the one the page allows
// (threads only when isolated).
import fs from 'node:fs';
import path from 'node:path';
import { test as pageTest } from '@playwright/test';
import { test, expect, wavSamples, preparePage } from './fixtures.mjs';
import { TMP, SPEECH_WAV } from './env.mjs';
import { serve } from '../scripts/serve.mjs';
import { buildApps } from './apps/build.mjs';
import { loadModel } from '../web/src/index.js';
import { HUB_MODEL } from '../tests/node/hub-fixture.mjs';

test.describe.configure({ mode: 'serial' });

let out;
let reference;

// speech.wav's 16-bit samples as floats, as the page's decodeAudioData gives them.
function speech() {
  const b = fs.readFileSync(SPEECH_WAV);
  const count = wavSamples();
  const start = b.indexOf('data') + 8;
  return Float32Array.from({ length: count }, (_, i) => b.readInt16LE(start + 2 * i) / 32768);
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  out = await buildApps(fs.mkdtempSync(path.join(TMP, 'apps-')));
  const model = await loadModel(HUB_MODEL, { hub: path.join(out.webpack, 'hub', '{repo}/{file}') });
  reference = (await model.transcribe(speech())).words.map((w) => ({ text: w.text, tokens: Array.from(w.tokens) }));
  await model.dispose();
  expect(reference.length).toBeGreaterThan(0);
});

const COMBINATIONS = [];
for (const isolate of [false, true]) {
  COMBINATIONS.push({ name: 'vite', dir: () => out.vite.root, base: '/', isolate });
  COMBINATIONS.push({ name: 'vite --base /app/', dir: () => out.vite.sub, base: '/app/', isolate });
  COMBINATIONS.push({ name: 'webpack', dir: () => out.webpack, base: '/', isolate });
  COMBINATIONS.push({ name: 'webpack under /app/', dir: () => out.webpack, base: '/app/', isolate });
}

async function appResult(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.appResult, null, { timeout: 90_000 });
  return page.evaluate(() => window.appResult);
}

for (const c of COMBINATIONS) {
  test(`${c.name}, ${c.isolate ? 'cross-origin isolated (threads)' : 'plain'}: loads the model by name and transcribes a file`, async ({ page }) => {
    const { server, url } = await serve({ root: c.dir(), port: 0, index: '', isolate: c.isolate, base: c.base });
    try {
      const r = await appResult(page, `${url}${c.base}`);
      expect(r.error).toBeUndefined();
      expect(r.crossOriginIsolated).toBe(c.isolate);
      expect(r.engine.threaded).toBe(c.isolate);
      expect(r.engine.build).toBe(c.isolate ? 'kyutai-mt-relaxed' : 'kyutai-relaxed');
      expect(r.backend).toBe(c.isolate ? 'wasm-simd-threads' : 'wasm-simd');
      if (c.isolate) expect(r.threads).toBeGreaterThan(1);
      expect(r.words).toEqual(reference);
    } finally {
      server.close();
    }
  });
}

test('vite dev server (no build): the same app transcribes the same words', async ({ page }) => {
  const { createServer } = await import('vite');
  const config = (await import('./apps/vite.config.mjs')).default;
  // The built app's folder holds the hub layout: the dev server serves it as public files.
  const server = await createServer({ ...config, configFile: false, root: out.app, publicDir: out.vite.root, server: { port: 0, host: '127.0.0.1' } });
  await server.listen();
  try {
    const r = await appResult(page, server.resolvedUrls.local[0]);
    expect(r.error).toBeUndefined();
    expect(r.engine.build).toBe('kyutai-relaxed');
    expect(r.words).toEqual(reference);
  } finally {
    await server.close();
  }
});

// The page is isolated (under /coi/) but the bundled worker script, at /assets/, is served
// without the COEP header: Chromium refuses it. The app gets a KyutaiError that says so.
pageTest('a worker script refused by an isolated page is a NOT_FOUND naming it and the COEP header', async ({ page }) => {
  const errors = await preparePage(page);
  const { server, url } = await serve({ root: out.vite.root, port: 0, index: '' });
  try {
    const r = await appResult(page, `${url}/coi/`);
    expect(r.error).toMatchObject({ name: 'KyutaiError', code: 'NOT_FOUND' });
    expect(r.error.message).toMatch(/could not load .*worker.*Cross-Origin-Embedder-Policy: require-corp/);
    expect(errors.filter((e) => !/ERR_BLOCKED_BY_RESPONSE|Failed to load resource|KyutaiError/.test(e))).toEqual([]);
  } finally {
    server.close();
  }
});
