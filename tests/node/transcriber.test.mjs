// The engine's Transcriber (Kyutai's STT word stream, VAD, end of turn, flush) through the
// built module, on the tiny STT checkpoint with the tiny Mimi; its words come whole, once
// ended (the pairing's cases: tests/session/word_stream_test.cpp SessionWordsOnceEnded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const lm = await engine.loadLm(read('stt/config.json').toString(), read('stt/weights.safetensors'));
const mimi = await engine.loadMimi(read('mimi/config.json').toString(), read('mimi/weights.safetensors'));
const tokenizer = await engine.loadTokenizer(read('tts/tokenizer.model'));  // 100 pieces, as the STT's text card

const frame = (f) => Float32Array.from({ length: 1920 }, (_, i) => 0.3 * Math.sin(0.02 * (f * 1920 + i)) * Math.sin(0.0007 * (f * 1920 + i)));

test('audio frames give one VAD event per frame, whole words in time order, and flush ends every word', () => {
  const t = lm.createTranscriber({ mimi });
  const events = [];
  for (let f = 0; f < 10; f++) events.push(...t.pushAudio(frame(f)));
  assert.equal(events.filter((e) => e.type === 'vad').length, 10);
  for (const e of events.filter((e) => e.type === 'vad')) {
    assert.equal(e.pause.length, 4);
    for (const p of e.pause) assert.ok(p >= 0 && p <= 1);
  }
  const tail = t.flush();
  const words = [...events, ...tail].filter((e) => e.type === 'word');
  assert.ok(words.length > 0);
  let previousEnd = 0;
  for (const w of words) {
    assert.equal(typeof w.end, 'number', 'given once ended: every word has its end');
    assert.ok(w.start <= w.end && w.start >= previousEnd - 1e-9, 'in time order, never overlapping');
    assert.equal(w.text, null, 'no tokenizer: no text');
    assert.ok(w.tokens.length > 0);
    for (const id of w.tokens) assert.ok(id !== 3 && id !== 0, 'padding never inside a word');
    previousEnd = w.end;
  }
  // Flush fed audio_delay_seconds (0.5) + 1 s of silence: 19 frames at 12.5 Hz.
  assert.equal(t.info().steps, 10 + 19);
  t.dispose();
});

test('with the model\'s tokenizer the engine decodes each word: the same words, with their text', () => {
  const plain = lm.createTranscriber({ mimi });
  const named = lm.createTranscriber({ mimi, tokenizer });
  const run = (t) => [...Array.from({ length: 10 }, (_, f) => t.pushAudio(frame(f))).flat(), ...t.flush()].filter((e) => e.type === 'word');
  const a = run(plain), b = run(named);
  assert.ok(a.length > 0);
  const untexted = (words) => words.map((w) => ({ ...w, text: undefined }));
  assert.deepEqual(untexted(b), untexted(a), 'text is all a tokenizer changes');
  for (const w of b) assert.equal(w.text, tokenizer.decodeWord(w.tokens));
  plain.dispose();
  named.dispose();
});

test('token frames without a codec, and errors that leave the transcriber usable', () => {
  const a = lm.createTranscriber(), b = lm.createTranscriber();
  const codes = Int32Array.from({ length: 8 }, (_, i) => i * 3);
  a.pushCodes(codes);
  b.pushCodes(codes);
  assert.throws(() => a.pushCodes(new Int32Array(7)), (e) => e instanceof KyutaiError && /expected 8 codebooks/.test(e.message));
  assert.throws(() => a.pushAudio(frame(0)), /no codec/);
  const x = a.pushCodes(codes), y = b.pushCodes(codes);
  assert.deepEqual(x, y);
  assert.throws(() => lm.createTranscriber({ vadHead: 9 }), /VAD head 9 does not exist/);
  assert.throws(() => lm.createTranscriber({ vadHead: 'two' }), /option 'vadHead' must be a number/);
  a.dispose();
  b.dispose();
});
