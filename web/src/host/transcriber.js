import { FRAME_RATE, FRAME_SIZE } from '../frame-tokenizer.js';
import { AudioStreamServant } from './streams.js';
import { samples as finiteSamples } from '../validate.js';

const checkSamples = finiteSamples();

// ---- speech-to-text as Kyutai ships it (the caller's side: web/src/transcriber.js) ----
// The engine's Transcriber (src/session/transcriber.h: Kyutai's alignment, word stream,
// semantic VAD, end of turn, flush with silence) on 1920-sample frames. Audio of any length
// is cut into frames here (a partial frame waits for the next push; flush pads it with
// silence). With the model's Mimi the engine encodes the audio itself; with another frame
// tokenizer this encodes each frame and the engine steps on the codes. The engine's events
// become the caller's: 'word' -> {type: 'word', text, tokens, start, end} (the engine gives
// each word whole once its end is known, its text decoded by the model's tokenizer), 'vad' ->
// {probabilities (the pause probability of each head), pause (the chosen head's), time},
// 'endOfTurn' -> {probability, time}. It steps the LM on WebAssembly even when the model's
// sessions run on WebGPU.
export class TranscriberServant {
  static protocol = 'transcriber';

  constructor(model, { vadHead, endOfTurnThreshold, temperature, seed, silenceCodes } = {}) {
    this.model = model;
    this.codec = model.frames.codec ?? null;  // Mimi, when the model was loaded with it
    const options = Object.fromEntries(Object.entries({ vadHead, endOfTurnThreshold, temperature, seed, silenceCodes }).filter(([, v]) => v !== undefined));
    this.transcriber = model.lm.createTranscriber({ mimi: this.codec, tokenizer: model.text, ...options });
    this.vadHead = vadHead ?? 2;
    this.buffer = new Float32Array(FRAME_SIZE);  // a partial frame between pushes
    this.filled = 0;
    this.tokenizer = null;  // the frame tokenizer, when it is not Mimi
    this.streams = new Set();
    model.sessions.add(this);
    model.host.register(this);
  }

  get frameSize() {
    return FRAME_SIZE;
  }

  describe() {
    const c = this.model.lm.config;
    return {
      id: this.id, vadHead: this.vadHead, heads: c.extraHeads ?? 0, frameSize: FRAME_SIZE, frameRate: FRAME_RATE,
      audio: this.codec ? 'mimi' : this.model.frames.kind,
    };
  }

  async #acquire() {
    if (!this.codec && !this.tokenizer) this.tokenizer = await this.model.frames.acquire(this, { encode: this.model.lm.config.nQ, decode: 0 });
  }

  // One whole frame -> the engine's result {step, textToken, codes, events} (one engine call),
  // null when it made no step.
  #frame(samples) {
    if (this.codec) return this.transcriber.pushAudioFrame(samples);
    const codes = this.tokenizer.encode(samples);
    if (codes.length === 0) return null;  // a streaming tokenizer still filling its window
    const n = this.model.lm.config.nQ;
    return this.transcriber.pushCodesFrame(codes.length === n ? codes : codes.slice(0, n));
  }

  // The engine's events -> the caller's, in order.
  #convert(events) {
    const out = [];
    for (const e of events) {
      if (e.type === 'word') out.push({ type: 'word', text: e.text, tokens: e.tokens, start: e.start, end: e.end });
      else if (e.type === 'vad') out.push({ type: 'vad', probabilities: Array.from(e.pause), pause: e.pause[this.vadHead], time: e.time, step: e.step });
      else if (e.type === 'endOfTurn') out.push({ type: 'endOfTurn', probability: e.probability, time: e.time, step: e.step });
    }
    return out;
  }

  // Samples of any length: every frame they complete is stepped. All or nothing: a bad
  // sample is refused before any frame runs, so the transcript never holds half a push.
  processSamples(samples) {
    checkSamples(samples, 'audio');  // also for live streams, which do not pass the Host's dispatch
    const events = [];
    let steps = 0;
    let last = null;
    const step = (frame) => {
      const r = this.#frame(frame);
      if (r) {
        events.push(...r.events);
        steps++;
        last = r;
      }
    };
    for (let offset = 0; offset < samples.length;) {
      const n = Math.min(FRAME_SIZE - this.filled, samples.length - offset);
      if (this.filled === 0 && n === FRAME_SIZE) {
        step(samples.subarray(offset, offset + n));  // a whole frame: no copy
      } else {
        this.buffer.set(samples.subarray(offset, offset + n), this.filled);
        this.filled += n;
        if (this.filled === FRAME_SIZE) {
          this.filled = 0;
          step(this.buffer);
        }
      }
      offset += n;
    }
    return { steps, last, events: this.#convert(events) };
  }

  async pushAudio(ctx, samples) {
    await this.#acquire();
    return this.processSamples(samples).events;
  }

  pushCodes(ctx, codes) {
    return this.#convert(this.transcriber.pushCodes(codes));
  }

  // A frame from a live stream (AudioStreamServant) -> its result, or null when it completed
  // no step. `codes` and `textToken` are what the step read and predicted (for live views).
  processAudio(samples) {
    const { steps, last, events } = this.processSamples(samples);
    if (!steps) return null;
    return { step: last.step, textToken: last.textToken, codes: last.codes, events };
  }

  // The end of the audio: a partial frame padded with silence, then the engine's flush (the
  // model's delay + 1 s of silence), which ends every word.
  async flush() {
    await this.#acquire();
    const events = [];
    if (this.filled) {
      this.buffer.fill(0, this.filled);
      this.filled = 0;
      events.push(...(this.#frame(this.buffer)?.events ?? []));
    }
    events.push(...this.transcriber.flush());
    return this.#convert(events);
  }

  // A new transcript from step 0; a connected capture keeps streaming into it.
  reset() {
    this.transcriber.reset();
    this.filled = 0;
    this.tokenizer?.reset?.();
  }

  // Closing a live stream does not end the transcript: flush() does.
  endOfStream() {
    return [];
  }

  async connect(ctx, port, options = {}) {
    await this.#acquire();
    const stream = new AudioStreamServant(this, port, options);
    return { id: stream.id };
  }

  dispose() {
    for (const s of [...this.streams]) s.close();
    if (this.tokenizer) this.model.frames.release(this, this.tokenizer);
    this.tokenizer = null;
    this.transcriber.dispose();
    this.model.sessions.delete(this);
    this.model.host.unregister(this.id);
  }
}
