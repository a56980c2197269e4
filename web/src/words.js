// Words from a speech model's text stream. Kyutai's rule (which tokens make a word, where a
// word starts and ends: moshi-core asr.rs, `State::step_tokens`) lives in one place, the
// engine's C++ word stream (src/session/word_stream.h), and reaches JS as two kinds of event:
//
//   {type: 'word', tokens: Int32Array, time}   a word's pieces are complete; time = its start
//   {type: 'endWord', time}                    the last word given ends at `time`
//
// This file only pairs those events; it never looks at padding ids itself. WordAssembler:
// events -> whole words {text, tokens, start, end}, each given once its end is known (the
// transcriber's words, web/src/transcriber.js). The ASR/TTS/duplex sessions' words come
// paired from the engine (src/session/word_stream.h SessionWords).

// Word + EndWord events -> words with a start and an end.
//
// A word normally ends at the EndWord that follows it. Kyutai's stream can leave a word
// unended: a word closed by padding (3) rather than end-of-padding (0) gets no EndWord if the
// next word's pieces come first. Such a word is given when the next word starts, ending at
// that word's start (in Kyutai's stream both then start at the same time, so it spans no
// time: the model never said when it ended). `flush(time)` gives a word still waiting.
export class WordAssembler {
  #pending = null;
  #decode;

  // decode(tokens: Int32Array) -> text (the SentencePiece tokenizer's decodeWord); without
  // it words carry their token ids and `text` is null.
  constructor({ decode = null } = {}) {
    this.#decode = decode;
  }

  // The word whose end is not known yet, or null.
  get pending() {
    return this.#pending;
  }

  #finish(word, end) {
    const text = this.#decode ? this.#decode(word.tokens) : null;
    return { type: 'word', text, tokens: word.tokens, start: word.start, end: Math.max(end, word.start) };
  }

  // Engine events in order (other types are ignored) -> the words they complete, in order.
  push(events) {
    const words = [];
    for (const e of events) {
      if (e.type === 'word') {
        if (this.#pending) words.push(this.#finish(this.#pending, e.time));
        this.#pending = { tokens: Int32Array.from(e.tokens), start: e.time };
      } else if (e.type === 'endWord' && this.#pending) {
        words.push(this.#finish(this.#pending, e.time));
        this.#pending = null;
      }
    }
    return words;
  }

  // End of input: the word still waiting (none after the engine's own flush, which ends
  // every word) ends at `time` (default: its start).
  flush(time) {
    const p = this.#pending;
    this.#pending = null;
    return p ? [this.#finish(p, time ?? p.start)] : [];
  }

  reset() {
    this.#pending = null;
  }
}
