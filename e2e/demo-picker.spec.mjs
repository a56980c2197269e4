// The demo's model picker, its reset between runs and its phone layout (issue 28): a model
// loaded by hub name (or folder URL) from a hub-layout folder served on another port, with
// its files, sizes and progress shown; readouts and caption links emptied when a new run or
// model starts; at 390 px the page is no wider than the screen (screenshot kept).
import fs from 'node:fs';
import path from 'node:path';
import { test as pageTest } from '@playwright/test';
import { test, expect, waitForDemo, preparePage } from './fixtures.mjs';
import { TMP, ARTIFACTS, SPEECH_WAV } from './env.mjs';
import { serve } from '../scripts/serve.mjs';
import { makeHubFolder, HUB_MODEL, HUB_FILES } from '../tests/node/hub-fixture.mjs';

test.describe.configure({ mode: 'serial' });

let hub;
test.beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(TMP, 'demo-hub-'));
  makeHubFolder(root);
  hub = { root, ...(await serve({ root, port: 0, index: '' })) };
});
test.afterAll(() => hub?.server.close());

async function runFile(page, file = SPEECH_WAV) {
  await page.setInputFiles('#file', file);
  await expect(page.locator('#status')).toContainText('done', { timeout: 60_000 });
  return page.evaluate(() => ({ ...window.kyutaiDemo, model: null }));
}

async function pick(page, model, hubTemplate = '') {
  await page.fill('#model-input', model);
  await page.fill('#hub-input', hubTemplate);
  await page.click('#load');
  await page.waitForFunction(() => window.kyutaiDemo.ready || window.kyutaiDemo.error, null, { timeout: 60_000 });
  expect(await page.evaluate(() => window.kyutaiDemo.error)).toBeNull();
}

test('a model picked by hub name loads with its files, sizes and progress, and transcribes', async ({ page }) => {
  await waitForDemo(page);
  await pick(page, HUB_MODEL, `${hub.url}/{repo}/{file}`);
  const model = await page.evaluate(() => window.kyutaiDemo.model);
  expect(model.source).toBe(HUB_MODEL);
  expect(model.files.map((f) => f.file)).toEqual([HUB_FILES.weights, HUB_FILES.mimi, HUB_FILES.tokenizer]);
  const dir = path.join(hub.root, ...HUB_MODEL.split('/'));
  expect(model.files.map((f) => f.size)).toEqual(model.files.map((f) => fs.statSync(path.join(dir, f.file)).size));
  for (const f of Object.values(HUB_FILES)) await expect(page.locator('#model-files')).toContainText(f);
  await expect(page.locator('#model-name')).toContainText(HUB_MODEL);
  await expect(page.locator('#load-detail')).toContainText('all files');
  expect(await page.locator('#load-progress').evaluate((p) => p.value)).toBe(1);
  const run = await runFile(page);
  expect(run.words.length).toBeGreaterThan(0);
  expect(run.words.every((w) => typeof w.text === 'string')).toBe(true);
});

test('a folder URL laid out like a repository loads the same way', async ({ page }) => {
  await waitForDemo(page);
  await pick(page, `${hub.url}/${HUB_MODEL}/`);
  const model = await page.evaluate(() => window.kyutaiDemo.model);
  expect(model.files.map((f) => f.file)).toEqual([HUB_FILES.weights, HUB_FILES.mimi, HUB_FILES.tokenizer]);
  expect(model.frameTokenizer.kind).toBe('mimi');
});

// The page reports this failure on the console (as it should), so its errors are checked here.
pageTest('a missing model shows a NOT_FOUND error naming its URL', async ({ page }) => {
  const errors = await preparePage(page);
  await waitForDemo(page);
  await page.fill('#model-input', 'kyutai/none');
  await page.fill('#hub-input', `${hub.url}/{repo}/{file}`);
  await page.click('#load');
  await page.waitForFunction(() => window.kyutaiDemo.error, null, { timeout: 30_000 });
  const error = await page.evaluate(() => window.kyutaiDemo.error);
  expect(error.code).toBe('NOT_FOUND');
  expect(error.message).toContain(`${hub.url}/kyutai/none/config.json`);
  await expect(page.locator('#status')).toContainText('NOT_FOUND');
  expect(errors.filter((e) => !e.includes('404') && !e.includes('kyutai/none/config.json'))).toEqual([]);
});

test('readouts, words and caption links of a run are cleared when the next run or model starts', async ({ page }) => {
  await waitForDemo(page);
  const first = await runFile(page);
  expect(first.words.length).toBeGreaterThan(0);
  await expect(page.locator('#captions-vtt')).toBeVisible();
  expect(Number(await page.locator('#frames').textContent())).toBe(first.results.length);
  // A second, shorter run: its own frame count and captions only, never the first run's.
  const short = path.join(TMP, 'speech-short.wav');
  const b = fs.readFileSync(SPEECH_WAV);
  const dataAt = b.indexOf('data') + 8;
  const bytes = 2 * 1920 * 10;
  const header = Buffer.from(b.subarray(0, dataAt));
  header.writeUInt32LE(bytes, dataAt - 4);
  header.writeUInt32LE(dataAt - 8 + bytes, 4);
  fs.writeFileSync(short, Buffer.concat([header, b.subarray(dataAt, dataAt + bytes)]));
  const second = await runFile(page, short);
  expect(second.results.length).toBe(10);
  expect(Number(await page.locator('#frames').textContent())).toBe(10);
  const vtt = await page.evaluate(() => window.kyutaiDemo.captions?.vtt ?? '');
  const cueWords = vtt.split('\n\n').slice(1).flatMap((cue) => cue.split('\n').slice(2).join(' ').split(/\s+/)).filter(Boolean);
  expect(cueWords).toEqual(second.words.map((w) => w.text).join(' ').split(/\s+/).filter(Boolean));
  await expect(page.locator('#text')).toHaveText(second.words.map((w) => `${w.text} `).join('').trim());
  // Loading another model empties everything the run showed.
  await pick(page, '');
  for (const id of ['#frames', '#dropped', '#queued']) await expect(page.locator(id)).toHaveText('0');
  for (const id of ['#latency', '#compute', '#rtf']) await expect(page.locator(id)).toHaveText('–');
  await expect(page.locator('#text')).toHaveText('');
  await expect(page.locator('#captions-vtt')).toBeHidden();
  await expect(page.locator('#captions-srt')).toBeHidden();
  expect(await page.locator('#captions-vtt').getAttribute('href')).toBeNull();
});

test('at 390 px (a phone) the page is no wider than the screen, before and after a run (screenshot)', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await waitForDemo(page);
  const width = () => page.evaluate(() => document.documentElement.scrollWidth);
  expect(await width()).toBeLessThanOrEqual(390);
  await runFile(page);
  expect(await width()).toBeLessThanOrEqual(390);
  // Nothing sticks out of its section either (a clipped grid would not widen the page).
  const overflowing = await page.evaluate(() => [...document.querySelectorAll('section *')]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).map((e) => e.id || e.tagName));
  expect(overflowing).toEqual([]);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = new URL('demo-390.png', ARTIFACTS).pathname;
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach('demo at 390 px', { path: file, contentType: 'image/png' });
});
