// Speech-to-text in the browser, end to end: the test speech (espeak-ng + sox at 24 kHz, made
// by global-setup.mjs) goes through the capture worklet (an OfflineAudioContext run, and
// Chromium's fake microphone playing the same file) to a transcriber in the engine's worker
// (Mimi + the tiny STT model of the demo bundle, its padding rows made "talkative" by
// web/demo/talkative.js, as the demo does, so that words come one at a time); word, vad and
// endOfTurn events come back with times that follow the frames fed; captions are written and
// read back in the page.
import fs from 'node:fs';
import { test, expect, openHarness, wavSamples, waitForDemo } from './fixtures.mjs';
import { SPEECH_WAV, MICROPHONE_LAUNCH } from './env.mjs';
import { parseWebVTT, parseSRT, wordsToCues } from '../web/src/captions.js';

// The fake capture device for the microphone test (launch options apply to this file).
test.use({ launchOptions: MICROPHONE_LAUNCH });

const BUNDLE = new URL('../dist/models/default/', import.meta.url);
const bundle = JSON.parse(fs.readFileSync(new URL('bundle.json', BUNDLE)));
const config = JSON.parse(fs.readFileSync(new URL(bundle.config, BUNDLE)));
const DELAY = config.asr_delay_in_tokens;                                        // 6 frames
const FLUSH_FRAMES = Math.ceil((config.stt_config.audio_delay_seconds + 1) * 12.5);  // 19
const THRESHOLD = 0.2;  // end-of-turn threshold: low enough for the tiny model to cross it
// The time the engine gives the vad event of the step `step` (1-based): the model's text
// stream lags the audio by DELAY frames, and times never go below 0.
const vadTime = (step) => Math.max(0, (step - DELAY) / 12.5);

// Loads the talkative bundle in the page (through the package's worker) as window.sttModel.
async function loadModelInPage(page) {
  await openHarness(page);
  return page.evaluate(async (b) => {
    const { talkative } = await import('/web/demo/talkative.js');
    const base = new URL('/dist/models/default/', location.href);
    const weights = talkative(await (await fetch(new URL(b.weights, base))).arrayBuffer());
    window.sttModel = await harness.kyutai.loadModel({
      config: new URL(b.config, base),
      weights,
      tokenizer: new URL(b.tokenizer, base),
      frameTokenizer: { type: 'mimi', config: new URL(b.mimi.config, base), weights: new URL(b.mimi.weights, base) },
    });
    return { inWorker: window.sttModel.inWorker, frameTokenizer: window.sttModel.frameTokenizer.kind };
  }, bundle);
}

// Checks shared by both runs: one vad event per step with the engine's time, words with
// text and increasing times reported no later than their end, ends of turn after their vad.
function checkEvents(events, steps) {
  const vad = events.filter((e) => e.type === 'vad');
  expect(vad.map((e) => e.step)).toEqual(steps);
  for (const e of vad) {
    expect(e.time).toBeCloseTo(vadTime(e.step), 9);
    expect(e.probabilities).toHaveLength(4);
    expect(e.pause).toBe(e.probabilities[2]);
  }
  const words = events.filter((e) => e.type === 'word');
  expect(words.length).toBeGreaterThan(3);
  for (const [i, e] of events.entries()) {
    if (e.type === 'word') {
      expect(typeof e.text).toBe('string');
      expect(e.tokens.length).toBeGreaterThan(0);
      expect(e.tokens.some((t) => t === 0 || t === 3)).toBe(false);
      expect(e.start).toBeLessThanOrEqual(e.end);
      // A word is reported with the frame that ended it (before that frame's vad event).
      const frame = events.slice(i).find((x) => x.type === 'vad') ?? vad.at(-1);
      expect(e.end).toBeLessThanOrEqual(frame.time + 1e-9);
    }
    if (e.type === 'endOfTurn') {
      expect(events[i - 1].type).toBe('vad');
      expect(e.time).toBe(events[i - 1].time);
      expect(e.probability).toBe(events[i - 1].pause);
      expect(e.probability).toBeGreaterThan(THRESHOLD);
    }
  }
  for (let i = 1; i < words.length; i++) {
    expect(words[i].start).toBeGreaterThanOrEqual(words[i - 1].end - 1e-9);
    expect(words[i].end).toBeGreaterThanOrEqual(words[i - 1].end);
  }
  return { vad, words, endsOfTurn: events.filter((e) => e.type === 'endOfTurn') };
}

test('OfflineAudioContext: worklet -> Mimi + STT in the worker -> word, vad and endOfTurn events; captions', async ({ page }) => {
  expect(await loadModelInPage(page)).toEqual({ inWorker: true, frameTokenizer: 'mimi' });
  const r = await page.evaluate(async (threshold) => {
    const K = harness.kyutai;
    const model = window.sttModel;
    const samples = await harness.decode('speech.wav');
    const transcriber = await model.createTranscriber({ endOfTurnThreshold: threshold });
    const events = [];
    for (const type of ['word', 'vad', 'endOfTurn']) transcriber.addEventListener(type, (e) => events.push(e.detail));
    const run = await harness.offlineCapture(samples, { session: transcriber, maxQueuedFrames: Infinity });
    const streamed = events.length;
    const flushed = await transcriber.flush();
    await transcriber.dispose();
    // The same clip without Web Audio, as a whole (pushAudio + flush).
    const direct = await model.transcribe(samples, { endOfTurnThreshold: threshold });
    // Captions, in the page.
    const words = events.filter((e) => e.type === 'word');
    const breaks = events.filter((e) => e.type === 'endOfTurn').map((e) => e.time);
    const vtt = K.toWebVTT(words, { breaks });
    const srt = K.toSRT(words, { breaks, maxWords: 4 });
    const ms = (cues) => cues.map((c) => [Math.round(c.start * 1000), Math.round(c.end * 1000), c.text]);
    await model.dispose();
    return {
      samples: samples.length, framesPosted: run.framesPosted, stats: run.streamStats, streamed,
      results: run.results.map((x) => ({ step: x.step, seq: x.seq, codes: Array.from(x.codes), textToken: x.textToken, vadSteps: x.events.filter((e) => e.type === 'vad').map((e) => e.step) })),
      events: events.map((e) => ({ ...e, tokens: e.tokens && Array.from(e.tokens) })),
      flushed: flushed.length,
      direct: { words: direct.words.map((w) => ({ text: w.text, start: w.start, end: w.end })), endsOfTurn: direct.endsOfTurn },
      vtt, srt,
      cues: { vtt: ms(K.wordsToCues(words, { breaks })), srt: ms(K.wordsToCues(words, { breaks, maxWords: 4 })) },
      parsed: { vtt: ms(K.parseWebVTT(vtt)), srt: ms(K.parseSRT(srt)) },
    };
  }, THRESHOLD);

  // Every frame the worklet cut went through the stream, one step each, in order.
  const frames = Math.ceil(wavSamples() / 1920);
  expect(r.samples).toBe(wavSamples());
  expect(r.framesPosted).toBe(frames);
  expect(r.stats).toMatchObject({ framesReceived: frames, framesProcessed: frames, dropped: 0 });
  expect(r.results.map((x) => x.step)).toEqual(r.results.map((_, i) => i + 1));
  expect(r.results.map((x) => x.seq)).toEqual(r.results.map((_, i) => i));
  for (const x of r.results) {
    expect(x.codes).toHaveLength(8);
    expect(x.vadSteps).toEqual([x.step]);  // each frame's result carries its own vad event
  }
  // Frame n (from 0) is step n + 1: its vad time is (n + 1 - delay) / 12.5 s, then flush's
  // silence adds FLUSH_FRAMES more steps.
  const steps = Array.from({ length: frames + FLUSH_FRAMES }, (_, n) => n + 1);
  const { vad, words, endsOfTurn } = checkEvents(r.events, steps);
  expect(vad.slice(0, frames).map((e) => e.time)).toEqual(r.results.map((_, n) => vadTime(n + 1)));
  expect(r.events.slice(0, r.streamed).filter((e) => e.type === 'vad')).toHaveLength(frames);
  expect(r.flushed).toBeGreaterThan(0);
  expect(endsOfTurn.length).toBeGreaterThan(0);
  // The worklet path and a direct push of the same samples give the same transcript.
  expect(r.direct.words).toEqual(words.map((w) => ({ text: w.text, start: w.start, end: w.end })));
  expect(r.direct.endsOfTurn).toEqual(endsOfTurn.map((e) => ({ time: e.time, probability: e.probability })));

  // Captions: parsed back in the page and here, the same cues to the millisecond.
  expect(r.cues.vtt.length).toBeGreaterThan(0);
  expect(r.parsed.vtt).toEqual(r.cues.vtt);
  expect(r.parsed.srt).toEqual(r.cues.srt);
  const ms = (cues) => cues.map((c) => [Math.round(c.start * 1000), Math.round(c.end * 1000), c.text]);
  expect(ms(parseWebVTT(r.vtt))).toEqual(r.cues.vtt);
  expect(ms(parseSRT(r.srt))).toEqual(r.cues.srt);
  expect(r.vtt.startsWith('WEBVTT\n\n1\n00:00:')).toBe(true);
  // Each cue spans its words: from the first one's start to the last one's end.
  expect(r.cues.vtt[0][0]).toBe(Math.round(words[0].start * 1000));
  expect(r.cues.vtt.at(-1)[1]).toBeGreaterThanOrEqual(Math.round(words.at(-1).end * 1000));
});

test('fake microphone -> capture worklet -> transcriber: live events through the async iterator', async ({ page }) => {
  await loadModelInPage(page);
  const r = await page.evaluate(async (threshold) => {
    const K = harness.kyutai;
    const transcriber = await window.sttModel.createTranscriber({ endOfTurnThreshold: threshold });
    const events = [];
    const reading = (async () => {
      for await (const e of transcriber) events.push({ ...e, tokens: e.tokens && Array.from(e.tokens) });
    })();
    const context = new AudioContext({ sampleRate: K.SAMPLE_RATE });
    await context.resume();
    const capture = await K.createCapture(context, { source: 'microphone' });
    const stream = await transcriber.connect(capture, { maxQueuedFrames: 25 });
    const results = [];
    stream.addEventListener('result', (e) => results.push({ step: e.detail.step, seq: e.detail.seq }));
    // 50 frames: 4 s of the looped speech in real time.
    await stream.whenProcessed(50);
    await capture.dispose();  // final: nothing is posted after this
    const end = await stream.close();
    const live = events.length;
    const flushed = await transcriber.flush();
    await transcriber.dispose();  // ends the iterator
    await reading;
    await context.close();
    await window.sttModel.dispose();
    return { results, stats: end.stats, endWords: end.words, events, live, flushed: flushed.length, error: stream.error?.message ?? null };
  }, THRESHOLD);
  expect(r.error).toBeNull();
  expect(r.results.length).toBe(r.stats.framesProcessed);
  expect(r.results.length + r.stats.dropped).toBeGreaterThanOrEqual(50);
  expect(r.results.map((x) => x.step)).toEqual(r.results.map((_, i) => i + 1));
  expect(r.endWords).toEqual([]);  // closing the stream does not end the transcript; flush does
  // Every processed frame and every flush frame has its vad event, stamped from its step.
  const steps = Array.from({ length: r.results.length + FLUSH_FRAMES }, (_, n) => n + 1);
  const { words } = checkEvents(r.events, steps);
  expect(r.events.slice(0, r.live).filter((e) => e.type === 'vad')).toHaveLength(r.results.length);
  expect(words.length).toBeGreaterThan(0);
  expect(r.flushed).toBeGreaterThan(0);
});

test('transcribe() of an AudioBuffer at 48 kHz: resampled to 24 kHz by the browser', async ({ page }) => {
  await loadModelInPage(page);
  const r = await page.evaluate(async () => {
    const K = harness.kyutai;
    const bytes = await (await fetch('speech.wav')).arrayBuffer();
    const at48 = await new OfflineAudioContext(1, 1, 48000).decodeAudioData(bytes.slice(0));
    const at24 = await harness.decode('speech.wav');
    const mono = await K.toMono24k(at48);
    let dot = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < Math.min(mono.length, at24.length); i++) {
      dot += mono[i] * at24[i];
      a += mono[i] * mono[i];
      b += at24[i] * at24[i];
    }
    const result = await window.sttModel.transcribe(at48);
    await window.sttModel.dispose();
    return { rate: at48.sampleRate, length48: at48.length, length24: at24.length, mono: mono.length, correlation: dot / Math.sqrt(a * b), duration: result.duration, words: result.words.map((w) => ({ text: w.text, start: w.start, end: w.end })) };
  });
  expect(r.rate).toBe(48000);
  expect(Math.abs(r.mono - r.length24)).toBeLessThanOrEqual(1);
  expect(r.correlation).toBeGreaterThan(0.99);  // the same speech, resampled
  expect(r.duration).toBeCloseTo(r.mono / 24000, 9);
  expect(r.words.length).toBeGreaterThan(0);
  for (const w of r.words) {
    expect(typeof w.text).toBe('string');
    expect(w.start).toBeLessThanOrEqual(w.end);
  }
});

test('the demo: a file gives live words, the pause meter, end-of-turn marks and captions', async ({ page }) => {
  await waitForDemo(page);
  await page.fill('#eot-threshold', String(THRESHOLD));
  await page.setInputFiles('#file', SPEECH_WAV);
  await expect(page.locator('#status')).toContainText('done', { timeout: 60_000 });
  const s = await page.evaluate(() => ({ ...window.kyutaiDemo, model: null }));
  const frames = Math.ceil(wavSamples() / 1920);
  expect(s.error).toBeNull();
  expect(s.vadHead).toBe(2);
  await expect(page.locator('#vad-head')).toHaveText('(VAD head 2 of 4)');
  // The meter followed every frame (and the flush's silence) and shows the last one.
  expect(s.vad.map((v) => v.time)).toEqual(Array.from({ length: frames + FLUSH_FRAMES }, (_, n) => vadTime(n + 1)));
  expect(await page.locator('#pause').evaluate((m) => m.value)).toBeCloseTo(s.vad.at(-1).pause, 6);
  // Words one at a time, and a mark per end of turn (drawn by CSS: the text stays the words).
  expect(s.words.length).toBeGreaterThan(3);
  await expect(page.locator('#text')).toHaveText(s.words.map((w) => `${w.text} `).join('').trim());
  expect(s.endsOfTurn.length).toBeGreaterThan(0);
  await expect(page.locator('#text .turn')).toHaveCount(s.endsOfTurn.length);
  // Captions of those words, cut at the ends of turn, offered for download.
  await expect(page.locator('#captions-vtt')).toBeVisible();
  const cues = wordsToCues(s.words, { breaks: s.endsOfTurn.map((t) => t.time) });
  const ms = (list) => list.map((c) => [Math.round(c.start * 1000), Math.round(c.end * 1000), c.text]);
  expect(ms(parseWebVTT(s.captions.vtt))).toEqual(ms(cues));
  expect(ms(parseSRT(s.captions.srt))).toEqual(ms(cues));
  const download = await page.locator('#captions-vtt').evaluate(async (a) => (await fetch(a.href)).text());
  expect(download).toBe(s.captions.vtt);
});
