import { KyutaiError } from '../errors.js';
import { later } from './common.js';
import { AudioStreamServant, SpeechServant } from './streams.js';

// ---- sessions: the pipeline frame -> codes -> LM step -> words / audio ----
// The engine's session steps and gives each result's words (Kyutai's rule, paired and
// decoded in C++: words, ended); this forwards, and for a frame tokenizer other than the
// engine's own pipeline encodes the frame first.
export class SessionServant {
  static protocol = 'session';

  constructor(model, kind, session, { pipeline = false } = {}) {
    this.model = model;
    this.kind = kind;
    this.session = session;
    this.pipeline = pipeline;  // the engine encodes, steps, decodes and finds words itself
    this.tokenizer = null;
    this.streams = new Set();
    const c = model.lm.config;
    // Codes the LM reads per frame: all n_q codebooks for ASR; the user's half for Moshi.
    this.inputCodebooks = kind === 'asr' ? c.nQ : c.nQ - c.depQ;
    model.sessions.add(this);
    model.host.register(this);
  }

  async frameTokenizer() {
    if (!this.tokenizer) {
      const c = this.model.lm.config;
      const need = { encode: this.kind === 'tts' ? 0 : this.inputCodebooks, decode: this.kind === 'asr' ? 0 : c.depQ };
      if (!need.encode) need.encode = need.decode;
      const t = await this.model.frames.acquire(this, need);
      if (this.kind !== 'tts' && t.codebooks < this.inputCodebooks) {
        this.model.frames.release(this, t);
        throw new KyutaiError(`the ${this.model.frames.kind} frame tokenizer gives ${t.codebooks} codebooks per frame, the model reads ${this.inputCodebooks}`, 'INVALID_ARGUMENT');
      }
      this.tokenizer = t;
    }
    return this.tokenizer;
  }

  get frameSize() {
    return this.pipeline ? this.model.frames.codec.frameSize : this.tokenizer.frameSize;
  }

  // Generated audio codes -> samples, when the frame tokenizer can decode.
  #decode(result) {
    result.pcm = result.audio && this.tokenizer?.decode ? this.tokenizer.decode(result.audio) : null;
    return result;
  }

  pushFrame(ctx, codes) {
    if (this.kind === 'tts') throw new KyutaiError('a TTS session takes text: use pushText', 'INVALID_STATE');
    if (this.pipeline || this.kind === 'asr') return this.session.pushFrame(codes);
    return later(this.session.pushFrame(codes), (r) => this.#decode(r));  // GPU sessions answer with a promise
  }

  // Synchronous core of pushAudio and of audio streams (the tokenizer is acquired already).
  processAudio(samples) {
    if (this.pipeline) {
      if (!(samples instanceof Float32Array) || samples.length !== this.frameSize) {
        throw new KyutaiError(`audio frame: expected a Float32Array of ${this.frameSize} samples, got ${samples?.constructor?.name}(${samples?.length})`, 'INVALID_ARGUMENT');
      }
      return this.session.pushAudio(samples);  // one engine call
    }
    const t = this.tokenizer;
    if (!(samples instanceof Float32Array) || samples.length !== t.frameSize) {
      throw new KyutaiError(`audio frame: expected a Float32Array of ${t.frameSize} samples, got ${samples?.constructor?.name}(${samples?.length})`, 'INVALID_ARGUMENT');
    }
    const codes = t.encode(samples);
    if (codes.length === 0) return null;  // a streaming codec still filling its window
    if (codes.length !== t.codebooks) {
      throw new KyutaiError(`frame tokenizer returned ${codes.length} codes, expected ${t.codebooks}`, 'INTERNAL');
    }
    const input = codes.length === this.inputCodebooks ? codes : codes.slice(0, this.inputCodebooks);
    const own = codes.slice();  // ours to transfer, whatever the tokenizer keeps
    return later(this.pushFrame(null, input), (result) => {
      result.codes = own;
      return result;
    });
  }

  async pushAudio(ctx, samples) {
    if (this.kind === 'tts') throw new KyutaiError('a TTS session takes text: use pushText', 'INVALID_STATE');
    if (!this.pipeline) await this.frameTokenizer();
    return this.processAudio(samples);
  }

  async pushText(ctx, token) {
    if (this.kind !== 'tts') throw new KyutaiError('pushText is for TTS sessions', 'INVALID_STATE');
    if (this.model.frames && !this.tokenizer) await this.frameTokenizer();
    return this.textStep(token);
  }

  textStep(token) {
    return later(this.session.pushText(token), (r) => this.#decode(r));
  }

  flush() {
    return this.session.flush();
  }

  // A live stream of this session ended: its last words.
  endOfStream() {
    return this.flush();
  }

  reset() {
    for (const s of [...this.streams]) s.close();
    return later(this.session.reset(), () => this.tokenizer?.reset?.());
  }

  // Audio frames from a MessagePort (the capture worklet) -> results as events.
  async connect(ctx, port, options = {}) {
    if (this.kind === 'tts') throw new KyutaiError('a TTS session takes text, not audio', 'INVALID_STATE');
    if (!this.pipeline) await this.frameTokenizer();
    const stream = new AudioStreamServant(this, port, options);
    return { id: stream.id };
  }

  // TTS: text tokens -> frames as events (and to a playback port).
  async speak(ctx, tokens, options = {}) {
    if (this.kind !== 'tts') throw new KyutaiError('speak is for TTS sessions', 'INVALID_STATE');
    if (!this.tokenizer) await this.frameTokenizer();
    const job = new SpeechServant(this, tokens, options);
    return { id: job.id, frames: job.total };
  }

  dispose() {
    for (const s of [...this.streams]) s.close();
    if (this.tokenizer) this.model.frames.release(this, this.tokenizer);
    this.tokenizer = null;
    this.session.dispose();
    this.model.sessions.delete(this);
    this.model.host.unregister(this.id);
  }
}
