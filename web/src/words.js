// Streamed text tokens -> words, the way Kyutai's Rust ASR does it (moshi-core asr.rs,
// `State::step_tokens`): tokens of a word accumulate until a padding token follows them;
// that padding makes the word final. The end-of-padding token marks where the word ends in
// time. Tokens of the first `delaySteps` steps are ignored (the model's text lags the audio
// by asr_delay_in_tokens frames, and its first tokens say nothing).
//
// Padding ids (config.textPaddingId, config.textEndPaddingId) are never part of a word, so
// they never reach the text. Text comes from the SentencePiece tokenizer's decodeWord()
// when one is loaded; without it a word carries its token ids and `text` is null.

export class WordAssembler {
  constructor({ paddingId, endPaddingId, delaySteps = 0, frameRate = 12.5, tokenizer = null }) {
    this.paddingId = paddingId;
    this.endPaddingId = endPaddingId;
    this.delaySteps = delaySteps;
    this.frameRate = frameRate;
    this.tokenizer = tokenizer;
    this.reset();
  }

  reset() {
    this.pending = [];
    this.lastStop = 0;
    this.unended = null;  // the last final word whose end time is not known yet
  }

  #word(tokens, start) {
    const ids = Int32Array.from(tokens);
    return { tokens: ids, text: this.tokenizer ? this.tokenizer.decodeWord(ids) : null, start, end: null };
  }

  // `step` counts the steps taken, this one included (AsrSession's `step`).
  // Returns {words: newly final words, ended: a copy of a word given earlier, with the end
  // time this token fixed, or null}. A word can be final (text known) before its end is.
  push(step, token) {
    const words = [];
    let ended = null;
    if (step < this.delaySteps || token < 0) return { words, ended };
    const isPad = token === this.paddingId || token === this.endPaddingId;
    if (!isPad) {
      this.pending.push(token);
      return { words, ended };
    }
    if (this.pending.length) {
      const word = this.#word(this.pending, this.lastStop);
      this.pending = [];
      words.push(word);
      this.unended = word;
    }
    if (token === this.endPaddingId) {
      const stop = (step - this.delaySteps) / this.frameRate;
      if (this.unended) {
        // A word handed out at an earlier step is never changed afterwards (in-process callers
        // hold the same object): its end comes as a copy in `ended`.
        if (words.includes(this.unended)) this.unended.end = stop;
        else ended = { ...this.unended, end: stop };
        this.unended = null;
      }
      this.lastStop = stop;
    }
    return { words, ended };
  }

  // End of input: the tokens still pending form the last word.
  flush() {
    if (!this.pending.length) return [];
    const word = this.#word(this.pending, this.lastStop);
    this.pending = [];
    return [word];
  }
}
