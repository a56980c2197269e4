// The engine's Transcriber (Kyutai's STT word stream, VAD, end of turn, flush) through the
// built module, on the tiny STT checkpoint with the tiny Mimi.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const lm = await engine.loadLm(read('stt/config.json').toString(), read('stt/weights.safetensors'));
const mimi = await engine.loadMimi(read('mimi/config.json').toString(), read('mimi/weights.safetensors'));

const frame = (f) => Float32Array.from({ length: 1920 }, (_, i) => 0.3 * Math.sin(0.02 * (f * 1920 + i)) * Math.sin(0.0007 * (f * 1920 + i)));

test('audio frames give one VAD event per frame, word events with ordered times, and flush ends every word', () => {
  const t = lm.createTranscriber({ mimi });
  const events = [];
  for (let f = 0; f < 10; f++) events.push(...t.pushAudio(frame(f)));
  assert.equal(events.filter((e) => e.type === 'vad').length, 10);
  for (const e of events.filter((e) => e.type === 'vad')) {
    assert.equal(e.pause.length, 4);
    for (const p of e.pause) assert.ok(p >= 0 && p <= 1);
  }
  const tail = t.flush();
  const all = [...events, ...tail];
  const words = all.filter((e) => e.type === 'word'), ends = all.filter((e) => e.type === 'endWord');
  assert.ok(words.length > 0);
  assert.equal(words.length, ends.length, 'after flush every word has its end');
  for (const w of words) for (const id of w.tokens) assert.ok(id !== 3 && id !== 0, 'padding never inside a word');
  // Flush fed audio_delay_seconds (0.5) + 1 s of silence: 19 frames at 12.5 Hz.
  assert.equal(t.info().steps, 10 + 19);
  t.dispose();
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
