// Streamed text tokens -> words (web/src/words.js), Kyutai's rule from moshi-core asr.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordAssembler } from '../../web/src/words.js';

const PAD = 3;
const END = 0;
// A test double of the engine tokenizer's word decoding: pieces by id.
const pieces = { 10: '\u2581hel', 11: 'lo', 12: '\u2581world', 13: '\u2581a' };
const tokenizer = { decodeWord: (ids) => Array.from(ids, (i) => pieces[i]).join('').replace(/^\u2581/, '') };

function feed(assembler, tokens, firstStep = 1) {
  const out = [];
  tokens.forEach((t, i) => out.push(assembler.push(firstStep + i, t)));
  return out;
}

test('padding after a word makes it final; padding ids never become text', () => {
  const a = new WordAssembler({ paddingId: PAD, endPaddingId: END, tokenizer });
  const out = feed(a, [PAD, 10, 11, PAD, PAD, END, 12, END, 13]);
  const words = out.flatMap((o) => o.words);
  assert.deepEqual(words.map((w) => w.text), ['hello', 'world']);
  assert.deepEqual(words.map((w) => Array.from(w.tokens)), [[10, 11], [12]]);
  assert.equal(out[3].words.length, 1, '"hello" is final at the first padding after it');
  assert.equal(out[3].words[0].end, null, 'its end is not known yet');
  assert.equal(out[5].ended.text, 'hello', 'the end-of-padding token fixes the end of the earlier word');
  assert.equal(out[5].ended.end, 6 / 12.5);
  assert.equal(out[7].words[0].text, 'world');
  assert.equal(out[7].words[0].end, 8 / 12.5, 'final and ended at the same step');
  assert.equal(out[7].ended, null, 'not reported twice');
  assert.equal(out[7].words[0].start, 6 / 12.5, 'a word starts where the previous one ended');
  assert.deepEqual(a.flush().map((w) => w.text), ['a']);
  assert.deepEqual(a.flush(), []);
});

test('tokens within the ASR delay are ignored, and -1 (no token) is not a token', () => {
  const a = new WordAssembler({ paddingId: PAD, endPaddingId: END, delaySteps: 3 });
  const out = feed(a, [10, 11, -1, 12, -1, PAD]);  // steps 1..6: 10 and 11 fall before step 3
  const words = out.flatMap((o) => o.words);
  assert.equal(words.length, 1);
  assert.deepEqual(Array.from(words[0].tokens), [12]);
  assert.equal(words[0].text, null, 'no tokenizer: ids only');
});

test('reset forgets pending tokens and times', () => {
  const a = new WordAssembler({ paddingId: PAD, endPaddingId: END, tokenizer });
  feed(a, [10, END, 12]);
  a.reset();
  assert.deepEqual(a.flush(), []);
  const [o] = feed(a, [13, PAD]).slice(1);
  assert.equal(o.words[0].start, 0);
});
