// The microphone path, live: Chromium's fake capture device plays the test speech (see
// playwright.config.mjs), the capture worklet cuts it into frames at 24 kHz and posts them
// to the engine's worker, and the ASR session answers every frame.
import { test, expect, waitForDemo } from './fixtures.mjs';

test('a fake microphone drives the capture worklet; frames reach the session', async ({ page }) => {
  await waitForDemo(page);
  await page.click('#mic');
  await expect(page.locator('#status')).toContainText('listening (24000 Hz)');
  // 25 frames = 2 s of audio in real time; the first arrive after the device starts.
  await page.waitForFunction(() => (window.kyutaiDemo.stats?.framesProcessed ?? 0) >= 25 || window.kyutaiDemo.error, null, { timeout: 60_000 });
  await page.click('#stop');
  await expect(page.locator('#status')).toHaveText('stopped');
  const s = await page.evaluate(() => ({ ...window.kyutaiDemo, model: null }));
  expect(s.error).toBeNull();
  expect(s.source).toBe('microphone');

  // Counts agree along the whole path: worklet -> worker queue -> session.
  expect(s.captureStats.sampleRate).toBe(24000);
  expect(s.stats.framesReceived).toBeLessThanOrEqual(s.captureStats.framesPosted);
  expect(s.stats.framesProcessed + s.stats.dropped + s.stats.queued).toBe(s.stats.framesReceived);
  expect(s.results.length).toBe(s.stats.framesProcessed);
  expect(s.results.length).toBeGreaterThanOrEqual(25);
  // One LM step per processed frame, in order; sequence numbers only skip dropped frames.
  expect(s.results.map((r) => r.step)).toEqual(s.results.map((_, i) => i + 1));
  for (let i = 1; i < s.results.length; i++) expect(s.results[i].seq).toBeGreaterThan(s.results[i - 1].seq);
  expect(s.results.at(-1).seq + 1 - s.results.length).toBe(s.stats.dropped);

  // The frames carry the speech: loud bands, and codes that change from frame to frame.
  const codes = s.results.map((r) => r.codes.join(','));
  expect(new Set(codes).size).toBeGreaterThan(10);
  expect(Math.max(...s.results.flatMap((r) => r.codes))).toBeGreaterThan(15);
  for (const r of s.results) expect(r.codes.every((c) => c >= 0 && c < 32)).toBe(true);
  await expect(page.locator('#frames')).toHaveText(String(s.stats.framesProcessed));
});

test('Speak: "Record my voice" turns 10 s of microphone into a voice the panel then speaks with', async ({ page }) => {
  await waitForDemo(page);
  await page.waitForFunction(() => window.kyutaiDemo.speak?.ready || window.kyutaiDemo.speak?.error, null, { timeout: 60_000 });
  expect(await page.evaluate(() => window.kyutaiDemo.speak.error)).toBeNull();
  await expect(page.locator('#speak-voice option[value="recorded"]')).toBeDisabled();
  await page.click('#speak-record');
  await expect(page.locator('#speak-status')).toContainText('recording');
  await expect(page.locator('#speak-status')).toContainText('recorded', { timeout: 60_000 });
  const recorded = await page.evaluate(() => window.kyutaiDemo.speak.recorded);
  expect(recorded.samples).toBeGreaterThanOrEqual(10 * 24000);
  // Kyutai's voice layout [1, C, T]: 10 s of Mimi latent at 12.5 frames/s.
  expect(recorded.shape[0]).toBe(1);
  expect(recorded.shape[2]).toBe(125);
  await expect(page.locator('#speak-voice')).toHaveValue('recorded');

  await page.fill('#speak-text', 'Hello in my own voice.');
  await page.click('#speak-button');
  await expect(page.locator('#speak-status')).toContainText('done', { timeout: 90_000 });
  const s = await page.evaluate(() => window.kyutaiDemo.speak);
  expect(s.error).toBeNull();
  expect(s.words.map((w) => w.text)).toEqual(['Hello', 'in', 'my', 'own', 'voice.']);
  expect(s.played.framesPlayed).toBe(s.pcmChunks);
  expect(s.played.underruns).toBe(0);
});
