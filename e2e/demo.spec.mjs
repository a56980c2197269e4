// The demo page (web/demo/): loads the bundled model in a worker, shows it, and runs a file
// through the capture worklet into an ASR session.
import fs from 'node:fs';
import { test, expect, waitForDemo, wavSamples } from './fixtures.mjs';
import { SPEECH_WAV, ARTIFACTS } from './env.mjs';

test('the demo loads the bundled model and shows it', async ({ page }) => {
  await waitForDemo(page);
  const model = await page.evaluate(() => window.kyutaiDemo.model);
  expect(model.backend).toBe('wasm-simd');
  expect(model.threads).toBe(1);
  expect(model.crossOriginIsolated).toBe(false);
  expect(model.config).toMatchObject({ modelType: 'stt', dim: 64, nQ: 8, card: 32, textCard: 100, depQ: 0 });
  expect(model.weightBytes).toBeGreaterThan(500_000);
  await expect(page.locator('#model-name')).toContainText('stt');
  await expect(page.locator('#model-shape')).toContainText('8 codebooks × 32');
  await expect(page.locator('#backend')).toHaveText('wasm-simd');
  await expect(page.locator('#threads')).toHaveText('1');
  // The bundle (scripts/make-demo-bundle.sh): Mimi turns audio into codes, SentencePiece
  // turns text tokens into words.
  await expect(page.locator('#frame-tokenizer')).toContainText('mimi');
  await expect(page.locator('#frame-tokenizer')).toContainText('8 codebooks of 32 codes');
  await expect(page.locator('#text-tokenizer')).toHaveText('SentencePiece, 100 pieces');
  expect(model.frameTokenizer).toEqual({ kind: 'mimi', frameSize: 1920, codebooks: 8, canDecode: true, cardinality: 32, threads: 1, source: 'network' });
  await expect(page.locator('#status')).toContainText('ready');
  await expect(page.locator('#mic')).toBeEnabled();
  await expect(page.locator('#file')).toBeEnabled();
  expect(await page.locator('#load-progress').evaluate((p) => p.value)).toBe(1);
  // The engine is not in the page: the model runs in the package's worker.
  expect(await page.evaluate(() => performance.getEntriesByType('resource').some((r) => r.name.endsWith('/web/src/worker.js')))).toBe(true);
});

test('a file goes through the worklet and the worker: token grid, text, readouts (screenshot)', async ({ page }, testInfo) => {
  await waitForDemo(page);
  await page.setInputFiles('#file', SPEECH_WAV);
  await expect(page.locator('#status')).toContainText('done', { timeout: 60_000 });
  const frames = Math.ceil(wavSamples() / 1920);
  const s = await page.evaluate(() => ({ ...window.kyutaiDemo, model: null }));
  expect(s.error).toBeNull();
  expect(s.captureStats.framesPosted).toBe(frames);
  expect(s.results.length).toBe(s.captureStats.framesPosted);
  expect(s.stats).toMatchObject({ framesReceived: s.results.length, framesProcessed: s.results.length, dropped: 0, queued: 0 });
  expect(s.results.map((r) => r.step)).toEqual(s.results.map((_, i) => i + 1));
  expect(s.results.map((r) => r.seq)).toEqual(s.results.map((_, i) => i));
  for (const r of s.results) {
    expect(r.codes).toHaveLength(8);
    for (const c of r.codes) expect(c >= 0 && c < 32).toBe(true);
    expect(r.textToken >= 0 && r.textToken < 100).toBe(true);
  }
  // Mimi codes follow the speech: they change from frame to frame on every codebook
  // (e2e/mimi.spec.mjs checks they are exactly the engine's codes for these samples).
  expect(new Set(s.results.map((r) => r.codes.join(','))).size).toBeGreaterThan(s.results.length / 2);
  for (let k = 0; k < 8; k++) expect(new Set(s.results.map((r) => r.codes[k])).size).toBeGreaterThan(3);
  // Text: words decoded by the bundle's tokenizer, never holding a padding id.
  expect(s.words.length).toBeGreaterThan(0);
  for (const w of s.words) {
    expect(w.tokens.some((t) => t === 3 || t === 0)).toBe(false);
    expect(typeof w.text).toBe('string');
  }
  await expect(page.locator('#text')).toHaveText(s.words.map((w) => `${w.text} `).join('').trim());
  await expect(page.locator('#text .ids')).toHaveCount(0);
  // Readouts.
  await expect(page.locator('#frames')).toHaveText(String(s.results.length));
  await expect(page.locator('#dropped')).toHaveText('0');
  await expect(page.locator('#rtf')).toHaveText(/^\d+\.\d{3}$/);
  await expect(page.locator('#latency')).toHaveText(/ms$/);
  // The heat-map was drawn: its newest column is not background.
  const drawn = await page.locator('#tokens').evaluate((c) => {
    const px = c.getContext('2d').getImageData(c.width - 3, 0, 1, c.height).data;
    let lit = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] + px[i + 1] + px[i + 2] > 3 * 0x22) lit++;
    return lit;
  });
  expect(drawn).toBeGreaterThan(20);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const path = new URL('demo.png', ARTIFACTS).pathname;
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach('demo', { path, contentType: 'image/png' });
});
