// Words of the package's sessions: Kyutai's rule (moshi-core asr.rs) runs in the engine
// (src/session/word_stream.h SessionWords), which pairs each step's word events and, given
// the model's tokenizer, decodes their text; every step's result carries {words, ended} and
// flush() the last words. Driven through a TTS session, whose forced text tokens are the
// stream the rule reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createEngine } from '../../web/src/engine.js';

const read = (f) => readFileSync(new URL(`../data/${f}`, import.meta.url));
const engine = await createEngine();
const lm = await engine.loadLm(read('lm/config.json').toString(), read('lm/weights.safetensors'));
const tokenizer = await engine.loadTokenizer(read('tts/tokenizer.model'));
const PAD = lm.config.textPaddingId;
const END = lm.config.textEndPaddingId;
const text = (ids) => tokenizer.decodeWord(Int32Array.from(ids));

const speak = (session, tokens) => tokens.map((t) => session.pushText(t));

test('padding after a word makes it final; the end-of-padding token ends it; the engine decodes the text', () => {
  const s = lm.createTtsSession({ tokenizer });
  const out = speak(s, [PAD, 10, 11, PAD, PAD, END, 12, END, 13]);
  const words = out.flatMap((o) => o.words);
  assert.deepEqual(words.map((w) => w.text), [text([10, 11]), text([12])]);
  assert.deepEqual(words.map((w) => Array.from(w.tokens)), [[10, 11], [12]]);
  assert.equal(out[3].words.length, 1, 'the first word is final at the first padding after it');
  assert.equal(out[3].words[0].end, null, 'its end is not known yet');
  assert.deepEqual(Array.from(out[5].ended.tokens), [10, 11], 'the end-of-padding token fixes the end of the earlier word');
  assert.equal(out[5].ended.text, text([10, 11]));
  assert.equal(out[5].ended.end, 6 / 12.5);
  assert.equal(out[3].words[0].end, null, 'a word handed out is never changed afterwards');
  assert.equal(out[7].words[0].end, 8 / 12.5, 'final and ended at the same step');
  assert.equal(out[7].ended, null, 'not reported twice');
  assert.equal(out[7].words[0].start, 6 / 12.5, 'a word starts where the previous one ended');
  const [last] = s.flush();
  assert.deepEqual(Array.from(last.tokens), [13]);
  assert.equal(last.text, text([13]));
  assert.equal(last.start, 8 / 12.5);
  assert.equal(last.end, 9 / 12.5, 'the engine ends a flushed word at the current step');
  assert.deepEqual(s.flush(), []);
  s.dispose();
});

test('-1 (no token) is not a piece; without a tokenizer words carry ids and null text', () => {
  const s = lm.createTtsSession();
  const words = speak(s, [10, -1, 11, PAD]).flatMap((o) => o.words);
  assert.equal(words.length, 1);
  assert.deepEqual(Array.from(words[0].tokens), [10, 11]);
  assert.equal(words[0].text, null);
  s.dispose();
});

test('the staged step (begin, then the local forward, as after a failed GPU frame) gives the same words', () => {
  const tokens = [10, 11, PAD, 12, END, 13, PAD, END];
  const oneCall = lm.createTtsSession({ tokenizer });
  const staged = lm.createTtsSession({ tokenizer });
  for (const t of tokens) {
    const a = oneCall.pushText(t);
    staged.begin(t);
    const b = staged.runLocal();
    assert.deepEqual(b.words, a.words);
    assert.deepEqual(b.ended, a.ended);
  }
  oneCall.dispose();
  staged.dispose();
});

test('reset forgets pending pieces and times', () => {
  const s = lm.createTtsSession({ tokenizer });
  speak(s, [10, END, 12]);
  s.reset();
  assert.deepEqual(s.flush(), []);
  const [, o] = speak(s, [13, PAD]);
  assert.equal(o.words[0].start, 0);
  assert.deepEqual(Array.from(o.words[0].tokens), [13]);
  s.dispose();
});
