// Speech-to-text through the public API (web/src/transcriber.js, host.js's TranscriberServant)
// on the bundled default model (dist/models/default: tiny STT + tiny Mimi + SentencePiece;
// random weights, so the words are random but the plumbing is real): events, word times,
// flush, reset, errors (the engine's pairing of a word with its end has its own cases:
// tests/session/word_stream_test.cpp SessionWordsOnceEnded); transcribe() at 24 and 16 kHz;
// the resampler; WebVTT / SRT written and read back. Most tests use the
// bundle with its padding rows made "talkative" (web/demo/talkative.js, as the demo does) so that words
// come one at a time as with a real model; one checks the bundle exactly as shipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  loadModel, KyutaiError, resample, toMono24k,
  wordsToCues, toWebVTT, toSRT, parseWebVTT, parseSRT,
} from '../../web/src/index.js';
import { talkative } from '../../web/demo/talkative.js';
import { createEngine } from '../../web/src/engine.js';
import { RpcClient, inProcessEndpoint } from '../../web/src/client.js';
import { KyutaiModel } from '../../web/src/index.js';

const BUNDLE = new URL('../../dist/models/default/', import.meta.url);
const bundle = JSON.parse(fs.readFileSync(new URL('bundle.json', BUNDLE)));
const file = (name) => new URL(name, BUNDLE);

async function loadBundle({ asShipped = false } = {}) {
  return loadModel({
    config: file(bundle.config),
    weights: asShipped ? file(bundle.weights) : talkative(fs.readFileSync(file(bundle.weights))),
    tokenizer: file(bundle.tokenizer),
    frameTokenizer: { type: 'mimi', config: file(bundle.mimi.config), weights: file(bundle.mimi.weights) },
  });
}

const model = await loadBundle();
const DELAY = model.config.asrDelayInTokens;  // 6: the text stream lags the audio by 6 frames
const PADDING = [model.config.textPaddingId, model.config.textEndPaddingId];

// A speech-like test signal (two modulated tones) as a function of time, so it can be
// sampled at any rate.
const signal = (t) => 0.3 * Math.sin(2 * Math.PI * 190 * t) * Math.sin(2 * Math.PI * 1.3 * t) + 0.1 * Math.sin(2 * Math.PI * 1100 * t + 3 * Math.sin(7 * t));
const audio = (seconds, rate = 24000) => Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => signal(i / rate));

// Pushes `samples` in irregular chunks; returns the events as resolved by pushAudio.
async function pushChunked(t, samples, sizes = [1000, 2500, 1920, 7, 4000, 333]) {
  const events = [];
  for (let o = 0, k = 0; o < samples.length; k++) {
    const n = sizes[k % sizes.length];
    events.push(...await t.pushAudio(samples.subarray(o, o + n)));
    o += n;
  }
  return events;
}

// Events as plain comparable data.
const plain = (events) => events.map((e) => ({ ...e, ...(e.tokens ? { tokens: Array.from(e.tokens) } : {}) }));

test('the transcriber: events in order with their types, words with text and times, vad per frame', async () => {
  const t = await model.createTranscriber();
  assert.equal(t.vadHead, 2);
  assert.equal(t.heads, 4);
  assert.equal(t.frameSize, 1920);
  const dom = [];
  for (const type of ['word', 'vad', 'endOfTurn']) t.addEventListener(type, (e) => dom.push(e.detail));
  const iterated = [];
  const iterator = t[Symbol.asyncIterator]();

  const frames = 40;
  const pushed = await pushChunked(t, audio(frames * 0.08));
  const flushed = await t.flush();
  const all = dom.slice();  // pushAudio's and flush()'s events, in order

  // The three deliveries agree: values of the calls, DOM events, the iterator.
  assert.deepEqual(plain(pushed), plain(all.slice(0, pushed.length)));
  for (let i = 0; i < all.length; i++) iterated.push((await iterator.next()).value);
  assert.deepEqual(plain(iterated), plain(all));
  await iterator.return();

  for (const e of all) assert.ok(['word', 'vad', 'endOfTurn'].includes(e.type), e.type);
  const vad = all.filter((e) => e.type === 'vad');
  // One vad event per frame: 40 of audio, then flush's delay + 1 s of silence (19 frames).
  assert.equal(pushed.filter((e) => e.type === 'vad').length, frames);
  assert.equal(vad.length, frames + Math.ceil((model.config.audioDelaySeconds + 1) * 12.5));
  vad.forEach((e, n) => {
    // Frame n's time: (n + 1) frames in, minus the model's delay, never below 0.
    assert.ok(Math.abs(e.time - Math.max(0, (n + 1 - DELAY) / 12.5)) < 1e-9, `vad ${n} at ${e.time}`);
    assert.equal(e.probabilities.length, 4);
    for (const p of e.probabilities) assert.ok(p >= 0 && p <= 1);
    assert.equal(e.pause, e.probabilities[2]);
  });

  // Words: text from the bundle's tokenizer, no padding, start <= end, in time order, and
  // never ending after the frame that reported them.
  const words = all.filter((e) => e.type === 'word');
  assert.ok(words.length >= 8, `${words.length} words`);
  // Some words end at an end-of-padding token; some were left unended by padding and end
  // where the next word starts (in Kyutai's stream: their own start).
  assert.ok(words.some((w) => w.end > w.start) && words.some((w, i) => w.end === w.start && words[i + 1]?.start === w.end), 'both kinds of word end');
  let previous = null;
  for (const [i, e] of all.entries()) {
    if (e.type !== 'word') continue;
    assert.deepEqual(Object.keys(e).sort(), ['end', 'start', 'text', 'tokens', 'type']);
    assert.equal(typeof e.text, 'string');
    assert.equal(e.text, await model.textTokenizer.decodeWord(e.tokens));
    assert.ok(e.tokens.length > 0 && !e.tokens.some((id) => PADDING.includes(id)));
    assert.ok(e.start <= e.end, `${e.start} <= ${e.end}`);
    if (previous) {
      assert.ok(e.start >= previous.start && e.end >= previous.end, 'times increase');
      assert.ok(e.start >= previous.end - 1e-9, 'words do not overlap');
    }
    previous = e;
    // A frame's words come before its vad event; the last ones (flush) after the last vad.
    const frame = all.slice(i).find((x) => x.type === 'vad') ?? vad.at(-1);
    assert.ok(e.end <= frame.time + 1e-9, `word ending at ${e.end} reported at ${frame.time}`);
  }
  // flush resolves with its words, which ended by the end of the flush silence.
  assert.deepEqual(plain(flushed), plain(all.slice(pushed.length).filter((e) => e.type === 'word')));
  for (const w of flushed) assert.ok(w.end <= vad.at(-1).time + 1e-9);
  await t.dispose();
});

test('end of turn: after a vad event whose pause probability crossed the threshold, at most once per word', async () => {
  const t = await model.createTranscriber({ endOfTurnThreshold: 0.2 });
  const all = [];
  for (const type of ['word', 'vad', 'endOfTurn']) t.addEventListener(type, (e) => all.push(e.detail));
  await pushChunked(t, audio(6));
  await t.flush();
  const eot = all.filter((e) => e.type === 'endOfTurn');
  assert.ok(eot.length >= 2, 'ends of turn');
  for (const e of eot) {
    const i = all.indexOf(e);
    const v = all[i - 1];
    assert.equal(v.type, 'vad', 'endOfTurn follows the vad event of its frame');
    assert.equal(e.time, v.time);
    assert.equal(e.probability, v.pause);
    assert.ok(e.probability > 0.2);
  }
  // A turn starts with a word: no end of turn before the first word started, and never more
  // ends of turn than words (each re-arms it once; words are reported at their end, so the
  // word that re-armed it may be reported after the end of turn).
  const words = all.filter((e) => e.type === 'word');
  assert.ok(eot.length <= words.length);
  assert.ok(eot[0].time >= words[0].start);
  // A higher threshold: fewer (or as many) ends of turn, each one also one at 0.2.
  const strict = await model.transcribe(audio(6), { endOfTurnThreshold: 0.6 });
  assert.ok(strict.endsOfTurn.length < eot.length);
  for (const e of strict.endsOfTurn) assert.ok(e.probability > 0.6);
  await t.dispose();
});

test('flush gives the remaining words; reset repeats exactly the same events; so does a new transcriber', async () => {
  const samples = audio(2.0);
  const run = async (t) => {
    const events = await pushChunked(t, samples);
    const words = await t.flush();
    return { events: plain(events), words: plain(words) };
  };
  const t = await model.createTranscriber();
  const first = await run(t);
  assert.ok(first.words.length > 0, 'the delayed words come out at flush');
  assert.ok(first.events.some((e) => e.type === 'word'), 'and others before');
  await t.reset();
  const second = await run(t);
  assert.deepEqual(second, first);
  const fresh = await model.createTranscriber();
  assert.deepEqual(await run(fresh), first);
  // A partial frame is padded with silence at flush: 2.01 s of audio make 26 frames.
  await fresh.reset();
  const partial = await fresh.pushAudio(audio(2.01));
  assert.equal(partial.filter((e) => e.type === 'vad').length, 25);
  const vadAtFlush = [];
  fresh.addEventListener('vad', (e) => vadAtFlush.push(e.detail));
  await fresh.flush();
  assert.equal(vadAtFlush.length, 1 + 19);
  await fresh.dispose();
  await t.dispose();
});

test('the bundle as shipped: hardly any padding, so flush ends its one long word', async () => {
  const shipped = await loadBundle({ asShipped: true });
  const t = await shipped.createTranscriber();
  const pushed = await t.pushAudio(audio(3.2));
  assert.deepEqual(pushed.filter((e) => e.type !== 'vad'), [], 'no padding: no word ends');
  const words = await t.flush();
  assert.equal(words.length, 1);
  assert.equal(words[0].start, 0);
  assert.equal(words[0].end, (40 + 19 - DELAY) / 12.5, 'ended at the last step of the flush');
  assert.equal(words[0].tokens.length, 40 + 19 - DELAY + 1, 'one piece per step after the delay');
  await shipped.dispose();
});

test('errors are KyutaiError and leave the transcriber as it was', async () => {
  await assert.rejects(model.createTranscriber({ vadHead: 9 }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /VAD head 9 does not exist/.test(e.message));
  await assert.rejects(model.createTranscriber({ endOfTurnThreshold: 'high' }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT');
  const t = await model.createTranscriber();
  const twin = await model.createTranscriber();
  const a = audio(0.5);
  await assert.rejects(t.pushAudio(new Int16Array(1920)), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /Float32Array/.test(e.message));
  const bad = a.slice();
  bad[3000] = NaN;
  await assert.rejects(t.pushAudio(bad), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /sample 3000 is NaN/.test(e.message));
  await assert.rejects(t.pushCodes(new Int32Array(7)), (e) => e instanceof KyutaiError && /expected 8 codebooks/.test(e.message));
  // The refused pushes changed nothing: the same audio gives the twin's events.
  assert.deepEqual(plain(await t.pushAudio(a)), plain(await twin.pushAudio(a)));
  assert.deepEqual(plain(await t.flush()), plain(await twin.flush()));
  await t.dispose();
  await assert.rejects(t.pushAudio(a), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE');
  await assert.rejects(t.flush(), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE');
  await twin.dispose();
  // A model disposed with a transcriber still open: the transcriber refuses, its iterators end.
  const other = await loadBundle();
  const u = await other.createTranscriber();
  const it = u[Symbol.asyncIterator]();
  const pending = it.next();
  await other.dispose();
  assert.deepEqual(await pending, { value: undefined, done: true });
  await assert.rejects(u.pushAudio(a), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE');
});

test('disposing transcribers (and sessions, whose words now come from the engine) frees all they took', async () => {
  // A model on an engine of our own, to read its heap: malloc's bytes in use and Embind handles.
  const engine = await createEngine();
  const client = new RpcClient(inProcessEndpoint({ engine }));
  const engineInfo = await client.call(0, 'init', [{}]);
  const read = (name) => fs.readFileSync(file(name));
  const info = await client.call(0, 'loadModel', [{
    config: read(bundle.config).toString(), weights: read(bundle.weights), tokenizer: read(bundle.tokenizer),
    frameTokenizer: { type: 'mimi', config: read(bundle.mimi.config).toString(), weights: read(bundle.mimi.weights) },
  }]);
  const own = new KyutaiModel(client, info, engineInfo);
  const run = async () => {
    const t = await own.createTranscriber();
    await t.pushAudio(audio(0.3));
    await t.flush();
    await t.dispose();
    const s = await own.createAsrSession();
    await s.pushAudio(audio(0.08));
    await s.flush();
    await s.dispose();
  };
  await run();
  const usage = () => ({ heap: engine.heapInUse(), handles: engine.module.count_emval_handles() });
  const before = usage();
  for (let i = 0; i < 20; i++) await run();
  assert.deepEqual(usage(), before);
  await own.dispose();
});

test('transcribe(): a clip at 24 kHz equals pushAudio + flush; at 16 kHz it is resampled first', async () => {
  const clip = audio(2.5);
  const result = await model.transcribe(clip);
  assert.equal(result.duration, 2.5);
  // The same by hand.
  const t = await model.createTranscriber();
  const words = [];
  const ends = [];
  t.addEventListener('word', (e) => words.push(e.detail));
  t.addEventListener('endOfTurn', (e) => ends.push(e.detail));
  await t.pushAudio(clip);
  await t.flush();
  await t.dispose();
  const simple = (w) => ({ text: w.text, tokens: Array.from(w.tokens), start: w.start, end: w.end });
  assert.ok(result.words.length > 0);
  assert.deepEqual(result.words.map(simple), words.map(simple));
  assert.deepEqual(result.endsOfTurn, ends.map((e) => ({ time: e.time, probability: e.probability })));
  // Options reach the transcriber: a low threshold gives ends of turn.
  const low = await model.transcribe(clip, { endOfTurnThreshold: 0.05 });
  assert.ok(low.endsOfTurn.length >= 1);

  // 16 kHz: the same signal sampled at 16 kHz is resampled to 24 kHz before the model.
  const clip16 = audio(2.5, 16000);
  const progress = [];
  const r16 = await model.transcribe(clip16, { sampleRate: 16000, chunkSeconds: 1, onProgress: (p) => progress.push(p) });
  assert.equal(r16.duration, 2.5);
  assert.deepEqual(progress.map((p) => p.seconds), [1.04, 2.08, 2.5]);  // chunks of whole frames (13 x 80 ms)
  const byHand = await model.transcribe(resample(clip16, 16000, 24000));
  assert.deepEqual(r16.words.map(simple), byHand.words.map(simple));
  for (const w of r16.words) assert.ok(w.start <= w.end && typeof w.text === 'string');
  // An AudioBuffer-shaped object (Node has no AudioBuffer): stereo at 48 kHz is mixed down and resampled.
  const left = audio(1, 48000);
  const buffer = { sampleRate: 48000, numberOfChannels: 2, length: left.length, getChannelData: (c) => (c === 0 ? left : left.map((v) => v * 0.5)) };
  const mono = await toMono24k(buffer);
  const expected = resample(left.map((v) => v * 0.75), 48000, 24000);
  assert.equal(mono.length, 24000);
  let diff = 0;
  for (let i = 0; i < mono.length; i++) diff = Math.max(diff, Math.abs(mono[i] - expected[i]));
  assert.ok(diff < 1e-6, `downmix then resample (${diff})`);
  await assert.rejects(model.transcribe([0, 1, 2]), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT');
});

test('the resampler: tones keep their shape, content above the new Nyquist frequency is removed', () => {
  const tone = (hz, rate, n, phase = 0) => Float32Array.from({ length: n }, (_, i) => Math.sin(2 * Math.PI * hz * (i / rate) + phase));
  const maxErr = (a, b, from, to) => {
    let m = 0;
    for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  // Up: 16 kHz -> 24 kHz (polyphase, 3/2), a 440 Hz and a 5 kHz tone.
  for (const hz of [440, 5000]) {
    const up = resample(tone(hz, 16000, 16000), 16000, 24000);
    assert.equal(up.length, 24000);
    assert.ok(maxErr(up, tone(hz, 24000, 24000), 200, 23800) < 2e-3, `${hz} Hz up`);
  }
  // Down: 48 kHz -> 24 kHz: 1 kHz is kept, 15 kHz (above 12 kHz) is filtered out, not folded to 9 kHz.
  const mix = tone(1000, 48000, 48000).map((v, i) => v + Math.sin(2 * Math.PI * 15000 * (i / 48000)));
  const down = resample(mix, 48000, 24000);
  assert.equal(down.length, 24000);
  assert.ok(maxErr(down, tone(1000, 24000, 24000), 200, 23800) < 5e-3, '15 kHz removed, 1 kHz intact');
  // 44.1 kHz (ratio 80/147) and a non-integer rate (weights per sample) agree with the tone.
  assert.ok(maxErr(resample(tone(300, 44100, 44100), 44100), tone(300, 24000, 24000), 200, 23800) < 2e-3);
  assert.ok(maxErr(resample(tone(300, 22050.5, 22051), 22050.5), tone(300, 24000, 24000), 200, 23800) < 2e-3);
  // Same rate: a copy. Bad rates: RangeError.
  const x = tone(100, 24000, 100);
  const same = resample(x, 24000);
  assert.deepEqual(same, x);
  assert.notEqual(same, x);
  assert.throws(() => resample(x, 0), RangeError);
  assert.throws(() => resample(x, 16000, NaN), RangeError);
});

test('WebVTT and SRT: cues from words, written and parsed back to the millisecond', async () => {
  const { words } = await model.transcribe(audio(6));
  assert.ok(words.length >= 3);
  for (const [write, parse] of [[toWebVTT, parseWebVTT], [toSRT, parseSRT]]) {
    for (const options of [{}, { maxWords: 2 }, { maxLineSeconds: 0.5 }, { maxChars: 10 }]) {
      const cues = wordsToCues(words, options);
      const back = parse(write(words, options));
      assert.deepEqual(back.map((c) => c.text), cues.map((c) => c.text));
      assert.deepEqual(back.map((c) => [Math.round(c.start * 1000), Math.round(c.end * 1000)]), cues.map((c) => [Math.round(c.start * 1000), Math.round(c.end * 1000)]));
      // Every word is in exactly one cue, in order.
      assert.equal(cues.map((c) => c.text).join(' '), words.map((w) => w.text).filter(Boolean).join(' ').replace(/\s+/g, ' ').trim());
    }
  }

  // Hand-made words: grouping rules, markup characters, hours, zero-length words.
  const w = (text, start, end) => ({ text, start, end });
  const made = [
    w('a<b>', 0, 0.5), w('&', 0.5, 1), w('c-->d', 1, 1.2),   // one cue
    w('after', 4, 4.5),                                     // a gap > 1.5 s: new cue
    w('x', 4.5, 4.5), w('y', 4.5, 4.5),                     // zero-length words
    w('turn', 5, 5.4),                                      // after a break at 4.9: new cue
    w(null, 5.5, 6), w('', 6, 6.1),                         // no text: skipped
    w('late', 3725.0004, 3726.9996),                        // past an hour, rounded to ms
  ];
  const cues = wordsToCues(made, { breaks: [4.9] });
  assert.deepEqual(cues, [
    { start: 0, end: 1.2, text: 'a<b> & c-->d' },
    { start: 4, end: 4.5, text: 'after x y' },
    { start: 5, end: 5.4, text: 'turn' },
    { start: 3725, end: 3727, text: 'late' },
  ]);
  const vtt = toWebVTT(made, { breaks: [4.9] });
  assert.match(vtt, /^WEBVTT\n\n1\n00:00:00\.000 --> 00:00:01\.200\na&lt;b&gt; &amp; c--&gt;d\n/);
  assert.match(vtt, /01:02:05\.000 --> 01:02:07\.000\nlate\n$/);
  assert.deepEqual(parseWebVTT(vtt).map(({ start, end, text }) => ({ start, end, text })), cues);
  const srt = toSRT(made, { breaks: [4.9] });
  assert.match(srt, /^1\n00:00:00,000 --> 00:00:01,200\na<b> & c->d\n\n2\n/);
  assert.deepEqual(parseSRT(srt).map(({ start, end, text }) => ({ start, end, text })), cues.map((c) => ({ ...c, text: c.text.replace('-->', '->') })));
  // A word of no duration still makes a cue of 1 ms, and cues never overlap.
  assert.deepEqual(wordsToCues([w('p', 1, 1), w('q', 1, 1)], { maxWords: 1 }), [{ start: 1, end: 1.001, text: 'p' }, { start: 1.001, end: 1.002, text: 'q' }]);
  // Parsers: other files' features (header text, NOTE, ids, settings, CRLF, no hours), errors.
  const foreign = 'WEBVTT - a title\r\n\r\nNOTE a comment\r\n\r\nintro\r\n00:01.500 --> 00:02.000 align:start\r\nHello\r\nworld\r\n';
  assert.deepEqual(parseWebVTT(foreign), [{ id: 'intro', start: 1.5, end: 2, text: 'Hello\nworld', settings: 'align:start' }]);
  assert.throws(() => parseWebVTT('1\n00:00:00,000 --> 00:00:01,000\nx\n'), SyntaxError);
  assert.throws(() => parseWebVTT('WEBVTT\n\n00:00:00.000 -> 00:00:01.000\nx\n'), SyntaxError);
  assert.throws(() => parseSRT('1\n00:00:00.000 --> 00:00:01.000\nx\n'), SyntaxError);
});

test.after(() => model.dispose());
