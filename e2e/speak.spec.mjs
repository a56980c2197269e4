// The demo's Speak panel (web/demo/speak.js): typed text -> model.createSpeaker in the
// package's worker (the bundled tiny TTS model, dist/models/tts) -> PCM straight to the
// playback worklet, heard by an AnalyserNode; words with their times; the WAV download. The
// same speech made by the package in Node is the reference: same words, same WAV bytes.
import fs from 'node:fs';
import path from 'node:path';
import { test, expect, waitForDemo, wavSamples } from './fixtures.mjs';
import { TMP } from './env.mjs';
import { serve } from '../scripts/serve.mjs';
import { makeTtsHubFolder, TTS_HUB_MODEL, TTS_HUB_VOICE } from '../tests/node/tts-hub-fixture.mjs';
import { loadModel } from '../web/src/index.js';
import { wavBlob } from '../web/demo/wav.js';

const TEXT = 'Hello from the browser. <break time="0.5s"/> This is Kyutai speaking.';
const TTS = new URL('../dist/models/tts/', import.meta.url).pathname;

// The package in Node, on the bundle's files: the words and the WAV the demo must give.
async function reference(text, cfg) {
  const model = await loadModel({
    config: `${TTS}config.json`, weights: `${TTS}model.safetensors`, tokenizer: `${TTS}tokenizer.model`,
    frameTokenizer: { type: 'mimi', config: `${TTS}mimi.json`, weights: `${TTS}mimi.safetensors` },
  });
  try {
    const speaker = await model.createSpeaker({ voice: `${TTS}voice_a.safetensors`, cfg });
    const pcm = [];
    const words = [];
    for await (const chunk of speaker.speak(text)) {
      if (chunk.pcm) pcm.push(chunk.pcm);
      words.push(...chunk.words);
    }
    const wav = Buffer.from(await wavBlob(pcm, speaker.sampleRate).arrayBuffer());
    return { words, wav, pcmChunks: pcm.length, samples: pcm.reduce((n, p) => n + p.length, 0) };
  } finally {
    await model.dispose();
  }
}

test('Speak: typed text is spoken through the playback worklet, with its words and a WAV of the right length', async ({ page }) => {
  const expected = await reference(TEXT, 2.5);
  expect(expected.words.map((w) => w.text)).toEqual(['Hello', 'from', 'the', 'browser.', 'This', 'is', 'Kyutai', 'speaking.']);

  await waitForDemo(page);
  await page.waitForFunction(() => window.kyutaiDemo.speak?.ready || window.kyutaiDemo.speak?.error, null, { timeout: 60_000 });
  expect(await page.evaluate(() => window.kyutaiDemo.speak.error)).toBeNull();
  await expect(page.locator('#speak-model')).toContainText('bundled tiny TTS model');
  await expect(page.locator('#speak-button')).toBeEnabled();
  // The conformance voice is picked; a recorded voice is offered only once one is recorded
  // (e2e/microphone.spec.mjs records one from the fake microphone).
  await expect(page.locator('#speak-voice')).toHaveValue('bundled:voice_a.safetensors');
  await expect(page.locator('#speak-record')).toBeEnabled();
  await expect(page.locator('#speak-voice option[value="recorded"]')).toBeDisabled();

  await page.fill('#speak-text', TEXT);
  await page.locator('#speak-cfg').fill('2.5');
  await expect(page.locator('#speak-cfg-value')).toHaveText('2.5');
  await page.click('#speak-button');
  await expect(page.locator('#speak-status')).toContainText('done', { timeout: 90_000 });

  const s = await page.evaluate(() => window.kyutaiDemo.speak);
  expect(s.error).toBeNull();
  expect(s.words).toEqual(expected.words.map(({ text, start, end }) => ({ text, start, end })));
  await expect(page.locator('#speak-words span')).toHaveText(expected.words.map((w) => w.text));
  expect(s.pcmChunks).toBe(expected.pcmChunks);
  expect(s.samples).toBe(expected.samples);
  // Every chunk reached the playback worklet and was played, without a gap...
  expect(s.played).toEqual({ framesPlayed: s.pcmChunks, received: s.pcmChunks, underruns: 0 });
  // ...and was heard: the analyser after the worklet saw the (loud, random-weight) speech.
  expect(s.level.peak).toBeGreaterThan(0.1);
  expect(s.level.loudReads).toBeGreaterThan(5);
  // Time to first audio and the step times, from the speaker's stats.
  expect(s.stats.firstAudioMs).toBeGreaterThan(0);
  expect(s.stats.audioSeconds).toBeCloseTo(s.samples / 24000, 6);
  await expect(page.locator('#speak-readout')).toContainText('first audio');

  // The WAV: 16-bit mono at 24 kHz, every sample, byte for byte the package's in Node.
  await expect(page.locator('#speak-wav')).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#speak-wav')]);
  const file = await download.path();
  expect(download.suggestedFilename()).toBe('speech.wav');
  expect(fs.statSync(file).size).toBe(44 + 2 * s.samples);
  expect(wavSamples(file)).toBe(s.samples);
  expect(fs.readFileSync(file).equals(expected.wav)).toBe(true);

  // A second run speaks again with a new speaker (one per run).
  await page.fill('#speak-text', 'Hello again.');
  await page.click('#speak-button');
  await page.waitForFunction(() => window.kyutaiDemo.speak.runs === 2 && !window.kyutaiDemo.speak.running, null, { timeout: 60_000 });
  await expect(page.locator('#speak-status')).toContainText('done');
  expect(await page.evaluate(() => window.kyutaiDemo.speak.words.map((w) => w.text))).toEqual(['Hello', 'again.']);
});

test('Speak: a voice file that is not a voice is refused with its code, and the panel recovers', async ({ page }) => {
  await waitForDemo(page);
  await page.waitForFunction(() => window.kyutaiDemo.speak?.ready, null, { timeout: 60_000 });
  await page.setInputFiles('#speak-voice-file', { name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.alloc(64) });
  await expect(page.locator('#speak-voice')).toHaveValue('file');
  await page.click('#speak-button');
  await expect(page.locator('#speak-status')).toContainText('INVALID_CHECKPOINT');
  await expect(page.locator('#speak-status')).toContainText('voice');
  await expect(page.locator('#speak-button')).toBeEnabled();
  await page.selectOption('#speak-voice', 'bundled:voice_a.safetensors');
  await page.click('#speak-button');
  await expect(page.locator('#speak-status')).toContainText('done', { timeout: 60_000 });
});

test('Speak with a TTS model picked by hub name: the panel uses it, with a voice name of kyutai/tts-voices', async ({ page }) => {
  const root = fs.mkdtempSync(path.join(TMP, 'speak-hub-'));
  makeTtsHubFolder(root);
  const hub = await serve({ root, port: 0, index: '' });
  try {
    await waitForDemo(page);
    await page.fill('#model-input', TTS_HUB_MODEL);
    await page.fill('#hub-input', `${hub.url}/{repo}/{file}`);
    await page.click('#load');
    await page.waitForFunction(() => window.kyutaiDemo.speak?.model?.bundled === false || window.kyutaiDemo.error, null, { timeout: 60_000 });
    expect(await page.evaluate(() => window.kyutaiDemo.error)).toBeNull();
    await expect(page.locator('#speak-model')).toHaveText('the model loaded above');
    await expect(page.locator('#speak-voice')).toHaveValue('name');
    await page.fill('#speak-voice-name', TTS_HUB_VOICE);
    await page.fill('#speak-text', 'Hello world, this is');
    await page.click('#speak-button');
    await expect(page.locator('#speak-status')).toContainText('done', { timeout: 60_000 });
    const s = await page.evaluate(() => window.kyutaiDemo.speak);
    expect(s.words.map((w) => w.text)).toEqual(['Hello', 'world,', 'this', 'is']);
    expect(s.played.framesPlayed).toBe(s.pcmChunks);
  } finally {
    hub.server.close();
  }
});
