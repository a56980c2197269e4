// A SentencePiece model (ModelProto, hand-encoded) with exactly `vocabSize` pieces for a
// synthetic checkpoint's text stream: Kyutai's special ids (unk 0, bos 1, eos 2, pad `padId`),
// then pronounceable pieces, word starts ("▁ka") at even ids and continuations ("ka") at odd
// ones, so any token a synthetic model emits decodes to text and words of several pieces occur.
// spm_train cannot make 8000 pieces from a short text; the pipeline bench only needs the ids
// to decode.
import { bytesField, concat, floatField, intField } from './protobuf.mjs';

const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const UNIGRAM = 1;
const CONSONANTS = 'bdfghjklmnprstvwyzcq';
const VOWELS = 'aeiou';

// A bijective base-100 spelling of n >= 0 in consonant-vowel syllables.
function syllables(n) {
  let s = '';
  let v = n + 1;
  while (v > 0) {
    v -= 1;
    const d = v % 100;
    s = CONSONANTS[Math.floor(d / 5)] + VOWELS[d % 5] + s;
    v = Math.floor(v / 100);
  }
  return s;
}

const piece = (text, score, type) => bytesField(1, concat([bytesField(1, text), floatField(2, score), new Uint8Array(intField(3, type))]));

export function sentencePieceModel(vocabSize, padId = 3) {
  const special = new Map([[0, ['<unk>', UNKNOWN]], [1, ['<s>', CONTROL]], [2, ['</s>', CONTROL]], [padId, ['<pad>', CONTROL]]]);
  const pieces = [];
  for (let id = 0; id < vocabSize; id++) {
    const s = special.get(id);
    if (s) pieces.push(piece(s[0], 0, s[1]));
    else pieces.push(piece((id % 2 === 0 ? '\u2581' : '') + syllables(Math.floor(id / 2)), -id / vocabSize, NORMAL));
  }
  const trainer = bytesField(2, concat([new Uint8Array(intField(3, UNIGRAM)), new Uint8Array(intField(4, vocabSize))]));
  const normalizer = bytesField(3, concat([bytesField(1, 'identity'), new Uint8Array(intField(3, 1)), new Uint8Array(intField(4, 1)), new Uint8Array(intField(5, 1))]));
  return concat([...pieces, trainer, normalizer]);
}
