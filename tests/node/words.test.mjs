// Streamed text tokens -> words for the package's sessions (web/src/words.js SessionWords):
// Kyutai's rule from moshi-core asr.rs runs in the engine's C++ word stream
// (src/session/word_stream.h, bound as module.WordStream); JS only pairs its events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../web/src/engine.js';
import { SessionWords } from '../../web/src/words.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const M = engine.module;
const PAD = 3;
const END = 0;
// A test double of the engine tokenizer's word decoding: pieces by id.
const pieces = { 10: '\u2581hel', 11: 'lo', 12: '\u2581world', 13: '\u2581a' };
const tokenizer = { decodeWord: (ids) => Array.from(ids, (i) => pieces[i]).join('').replace(/^\u2581/, '') };

const feed = (words, tokens) => tokens.map((t) => words.push(t));

test('padding after a word makes it final; padding ids never become text', () => {
  const a = new SessionWords(M, { paddingId: PAD, endPaddingId: END, tokenizer });
  const out = feed(a, [PAD, 10, 11, PAD, PAD, END, 12, END, 13]);
  const words = out.flatMap((o) => o.words);
  assert.deepEqual(words.map((w) => w.text), ['hello', 'world']);
  assert.deepEqual(words.map((w) => Array.from(w.tokens)), [[10, 11], [12]]);
  assert.equal(out[3].words.length, 1, '"hello" is final at the first padding after it');
  assert.equal(out[3].words[0].end, null, 'its end is not known yet');
  assert.equal(out[5].ended.text, 'hello', 'the end-of-padding token fixes the end of the earlier word');
  assert.equal(out[5].ended.end, 6 / 12.5);
  assert.equal(out[3].words[0].end, null, 'a word handed out is never changed afterwards');
  assert.equal(out[7].words[0].text, 'world');
  assert.equal(out[7].words[0].end, 8 / 12.5, 'final and ended at the same step');
  assert.equal(out[7].ended, null, 'not reported twice');
  assert.equal(out[7].words[0].start, 6 / 12.5, 'a word starts where the previous one ended');
  const [last] = a.flush();
  assert.equal(last.text, 'a');
  assert.equal(last.start, 8 / 12.5);
  assert.equal(last.end, 9 / 12.5, 'the engine ends a flushed word at the current step');
  assert.deepEqual(a.flush(), []);
  a.dispose();
});

test('tokens within the ASR delay are ignored, and -1 (no token) is not a token', () => {
  const a = new SessionWords(M, { paddingId: PAD, endPaddingId: END, delaySteps: 3 });
  const out = feed(a, [10, 11, -1, 12, -1, PAD]);  // steps 1..6: 10 and 11 fall before step 3
  const words = out.flatMap((o) => o.words);
  assert.equal(words.length, 1);
  assert.deepEqual(Array.from(words[0].tokens), [12]);
  assert.equal(words[0].text, null, 'no tokenizer: ids only');
  a.dispose();
});

test('reset forgets pending tokens and times; a disposed stream refuses', () => {
  const a = new SessionWords(M, { paddingId: PAD, endPaddingId: END, tokenizer });
  feed(a, [10, END, 12]);
  a.reset();
  assert.deepEqual(a.flush(), []);
  const [o] = feed(a, [13, PAD]).slice(1);
  assert.equal(o.words[0].start, 0);
  a.dispose();
  assert.throws(() => a.push(3), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE');
  assert.throws(() => new SessionWords(M, { paddingId: PAD }), (e) => e instanceof KyutaiError && /endPaddingId are required/.test(e.message));
  const b = new SessionWords(M, { paddingId: PAD, endPaddingId: END });
  assert.throws(() => b.push(1.5), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT');
  b.dispose();
});
