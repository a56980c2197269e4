// Shared test setup: every page fails its test on an uncaught error or console error, and
// any request for "speech.wav" is answered with the speech made by global-setup.mjs.
import { test as base, expect } from '@playwright/test';
import fs from 'node:fs';
import { SPEECH_WAV } from './env.mjs';

export { expect };

// Routes speech.wav and records errors for one page; returns the list of errors.
export async function preparePage(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.route('**/speech.wav', (route) => route.fulfill({ path: SPEECH_WAV, contentType: 'audio/wav' }));
  return errors;
}

export const test = base.extend({
  page: async ({ page }, use) => {
    const errors = await preparePage(page);
    await use(page);
    expect(errors, 'errors in the page').toEqual([]);
  },
});

// Samples of the 16-bit mono test WAV (from its data chunk).
export function wavSamples(file = SPEECH_WAV) {
  const b = fs.readFileSync(file);
  for (let o = 12; o < b.length;) {
    const id = b.toString('ascii', o, o + 4);
    const size = b.readUInt32LE(o + 4);
    if (id === 'data') return size / 2;
    o += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

export async function waitForDemo(page, url = '/web/demo/') {
  await page.goto(url);
  await page.waitForFunction(() => window.kyutaiDemo?.ready || window.kyutaiDemo?.error, null, { timeout: 60_000 });
  const error = await page.evaluate(() => window.kyutaiDemo.error);
  expect(error).toBeNull();
}

export async function openHarness(page, url = '/e2e/pages/harness.html') {
  await page.goto(url);
  await page.waitForFunction(() => window.harness, null, { timeout: 30_000 });
}
