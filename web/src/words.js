// Words from a speech model's text stream. Kyutai's rule (which tokens make a word, where a
// word starts and ends: moshi-core asr.rs, `State::step_tokens`) lives in one place, the
// engine's C++ word stream (src/session/word_stream.h), and reaches JS as two kinds of event:
//
//   {type: 'word', tokens: Int32Array, time}   a word's pieces are complete; time = its start
//   {type: 'endWord', time}                    the last word given ends at `time`
//
// This file only pairs those events; it never looks at padding ids itself.
//  * WordAssembler: events -> whole words {text, tokens, start, end}, each given once its end
//    is known (the transcriber's words, web/src/transcriber.js).
//  * SessionWords: a C++ word stream fed one text token per step, reporting words the moment
//    their pieces are complete and their end when it comes (the ASR/TTS/duplex sessions'
//    `words` / `ended` result fields).

import { KyutaiError, unwrap } from './errors.js';

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

// One text token per step through the engine's word stream (module.WordStream, bound in
// wasm/bind_stt.cpp) -> the session result fields: `words`, the words whose pieces this step
// completed ({tokens, text, start, end}; end null until known), and `ended`, a copy of a word
// given at an earlier step with the end this step fixed. A word given is never changed
// afterwards (in-process callers hold the same object). `delaySteps`: the steps before the
// text stream says anything (asr_delay_in_tokens for ASR, 0 otherwise).
export class SessionWords {
  #handle;
  #decode;
  #unended = null;

  constructor(module, { paddingId, endPaddingId, delaySteps = 0, frameRate = 12.5, tokenizer = null }) {
    this.#decode = tokenizer ? (ids) => tokenizer.decodeWord(ids) : null;
    const handle = new module.WordStream();
    try {
      unwrap(handle.init({ paddingId, endPaddingId, delaySteps, frameRate }));
    } catch (e) {
      handle.delete();
      throw e;
    }
    this.#handle = handle;
  }

  #events(result) {
    unwrap(result);
    const words = [];
    let ended = null;
    for (const e of result) {
      if (e.type === 'word') {
        const word = { tokens: e.tokens, text: this.#decode ? this.#decode(e.tokens) : null, start: e.time, end: null };
        words.push(word);
        this.#unended = word;
      } else if (e.type === 'endWord' && this.#unended) {
        if (words.includes(this.#unended)) this.#unended.end = e.time;
        else ended = { ...this.#unended, end: e.time };
        this.#unended = null;
      }
    }
    return { words, ended };
  }

  // Word events the engine produced itself (a duplex pipeline's word stream): paired the same way.
  take(events) {
    return this.#events(events);
  }

  // The text token of one step (-1: none this step).
  push(token) {
    return this.#events(this.#stream().push(token));
  }

  // End of input: the pieces still pending form the last word (ended now). Returns the words.
  flush() {
    return this.#events(this.#stream().flush()).words;
  }

  reset() {
    this.#stream().reset();
    this.#unended = null;
  }

  #stream() {
    if (!this.#handle) throw new KyutaiError('the word stream was disposed', 'INVALID_STATE');
    return this.#handle;
  }

  dispose() {
    this.#handle?.delete();
    this.#handle = null;
  }
}
