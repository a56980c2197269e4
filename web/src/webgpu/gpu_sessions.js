// The session loops of the GPU path, in JS because WebGPU is asynchronous: ports of the
// engine's AsrSession (src/session/asr_session.cpp, Kyutai's Rust ASR alignment) and LmGen
// (src/lm/lm_gen.cpp: delays, the generation cache, initial tokens) with the TTS and
// full-duplex sessions on top (src/session/generation_sessions.cpp). They drive a stepper
// (steppers.js), so the same loop runs on WebGPU, on WebAssembly, or on WebGPU until the
// device is lost and WebAssembly from then on. Their results have the shape of the engine's
// sessions (plus `backend`, where the frame ran); tests/node/gpu-sessions.test.mjs checks them
// against Kyutai's vectors with the WebAssembly stepper.
import { KyutaiError } from '../errors.js';
import { Random, sampleToken } from './sampling.js';

const UNGENERATED = -2;

function readCodes(codes, what) {
  if (!codes || typeof codes.length !== 'number' || typeof codes === 'string') {
    throw new KyutaiError(`${what}: expected an Int32Array of token ids, got ${codes?.constructor?.name ?? typeof codes}`, 'INVALID_ARGUMENT');
  }
  if (codes instanceof Float32Array || codes instanceof Float64Array) {
    throw new KyutaiError(`${what}: expected an Int32Array of token ids, got ${codes.constructor.name} (token dtype must be an integer type)`, 'INVALID_ARGUMENT');
  }
  const out = Int32Array.from(codes);
  for (let i = 0; i < codes.length; i++) {
    if (out[i] !== Number(codes[i])) throw new KyutaiError(`${what}: element ${i} (${codes[i]}) is not a 32-bit integer`, 'INVALID_ARGUMENT');
  }
  return out;
}

// Calls on one session run one after the other, in call order.
class Serial {
  #tail = Promise.resolve();
  run(fn) {
    const r = this.#tail.then(fn);
    this.#tail = r.catch(() => {});
    return r;
  }
}

// Kyutai's STT alignment: step 0 reads the initial tokens and keeps the frame; step t >= 1
// reads the text token of step t - 1 and the frame received at step t - 1.
export class AsrLoop {
  #serial = new Serial();

  constructor(config, stepper, { temperature = 0, seed = 0 } = {}) {
    this.config = config;
    this.stepper = stepper;
    this.temperature = Number(temperature) || 0;
    this.seed = seed;
    this.rng = new Random(seed);
    this.#init();
  }

  #init() {
    this.step = 0;
    this.textToken = 0;
    this.pending = new Int32Array(this.config.nQ).fill(this.config.card);
  }

  isPadding(token) {
    return token === this.config.textPaddingId || token === this.config.textEndPaddingId;
  }

  pushFrame(codes) {
    return this.#serial.run(() => this.#push(codes));
  }

  async #push(codes) {
    const c = this.config;
    const frame = readCodes(codes, 'audio frame');
    if (frame.length !== c.nQ) throw new KyutaiError(`expected ${c.nQ} codebooks in the audio frame, got ${frame.length}`, 'INVALID_ARGUMENT');
    for (let i = 0; i < frame.length; i++) {
      if (frame[i] !== -1 && (frame[i] < 0 || frame[i] >= c.card)) {
        throw new KyutaiError(`audio codebook ${i}: token ${frame[i]} is out of range (expected -1 or 0..${c.card - 1})`, 'INVALID_ARGUMENT');
      }
    }
    const tokens = new Int32Array(c.numCodebooks);
    tokens[0] = this.step === 0 ? c.textCard : this.textToken;
    for (let i = 0; i < c.nQ; i++) tokens[1 + i] = this.step === 0 ? c.card : this.pending[i];
    const params = { useSampling: this.temperature > 0, temperature: this.temperature, topK: 0 };
    const r = await this.stepper.frame({
      tokens,
      textSample: params.useSampling ? (logits) => sampleToken(logits, c.textCardOut, params, this.rng) : null,
      depformer: false,
      vad: true,
      rng: this.rng,
    });
    this.pending = frame;
    this.textToken = r.textToken;
    this.step += 1;
    return { step: this.step, textToken: r.textToken, isPadding: this.isPadding(r.textToken), vad: r.vad, backend: this.stepper.backend };
  }

  reset() {
    return this.#serial.run(() => {
      this.stepper.reset();
      this.rng.reseed(this.seed);
      this.#init();
    });
  }

  // After the frames already asked for (their GPU buffers stay alive until then).
  dispose() {
    return this.#serial.run(() => this.stepper.dispose());
  }
}

// Generation parameters as the engine reads them (bind_lm.cpp generation_params): Kyutai's
// lm_gen_config defaults, sampling only when asked, then the caller's overrides.
export function generationParams(config, options = {}) {
  const sampling = !!options?.sampling;
  const g = config.lmGen;
  const p = {
    text: { useSampling: sampling, temperature: g.tempText, topK: g.topKText },
    audio: { useSampling: sampling, temperature: g.temp, topK: g.topK },
    seed: 0,
  };
  const num = (v) => (v === undefined || v === null ? undefined : Number(v));
  p.audio.temperature = num(options?.temperature) ?? p.audio.temperature;
  p.text.temperature = num(options?.textTemperature) ?? p.text.temperature;
  p.audio.topK = num(options?.topK) ?? p.audio.topK;
  p.text.topK = num(options?.textTopK) ?? p.text.topK;
  p.seed = num(options?.seed) ?? 0;
  return p;
}

// Kyutai's LMGen: a cache of the last max_delay + 2 steps per stream re-aligns the delayed
// streams; a stream's first steps read its initial token; a frame is complete once all its
// delayed codebooks are known.
export class LmGenLoop {
  constructor(config, stepper, params) {
    this.config = config;
    this.stepper = stepper;
    this.params = params;
    this.rng = new Random(params.seed);
    this.K = config.numCodebooks;
    this.maxDelay = config.maxDelay;
    this.CT = this.maxDelay + 2;
    this.initial = Int32Array.from({ length: this.K }, (_, k) => (k === 0 ? config.textCard : config.card));
    this.#init();
  }

  #init() {
    this.cache = new Int32Array(this.K * this.CT).fill(UNGENERATED);
    this.offset = 0;
  }

  #at(k, pos) {
    return k * this.CT + (pos % this.CT);
  }

  // user: at least n_q - dep_q user codes; forcedText replaces the sampled text token.
  async step(user, forcedText) {
    const c = this.config;
    const Q = c.depQ;
    const needed = c.nQ - Q;
    const codes = readCodes(user, 'user audio frame');
    if (codes.length < needed) throw new KyutaiError(`expected ${needed} codebooks in the user frame, got ${codes.length}`, 'INVALID_ARGUMENT');
    for (let i = 0; i < needed; i++) {
      if (codes[i] !== -1 && (codes[i] < 0 || codes[i] >= c.card)) {
        throw new KyutaiError(`user codebook ${i}: token ${codes[i]} is out of range (expected -1 or 0..${c.card - 1})`, 'INVALID_ARGUMENT');
      }
    }
    const forced = forcedText !== undefined && forcedText !== null;
    if (forced && (!Number.isInteger(forcedText) || forcedText < -1 || forcedText > c.textCard)) {
      throw new KyutaiError(`text token ${forcedText} is out of range (expected -1 or 0..${c.textCard})`, 'INVALID_ARGUMENT');
    }
    for (let k = Q + 1; k < this.K; k++) this.cache[this.#at(k, this.offset + c.delays[k])] = codes[k - Q - 1];
    const tokens = new Int32Array(this.K);
    for (let k = 0; k < this.K; k++) {
      tokens[k] = this.offset <= c.delays[k] ? this.initial[k] : this.cache[this.#at(k, this.offset)];
      if (tokens[k] === UNGENERATED) throw new KyutaiError(`stream ${k} has no token at step ${this.offset} (the ungenerated marker would reach the network)`, 'INTERNAL');
    }
    const { text, audio } = this.params;
    const r = await this.stepper.frame({
      tokens,
      forcedText: forced ? forcedText : undefined,
      textSample: text.useSampling && text.temperature > 0 ? (l) => sampleToken(l, c.textCardOut, text, this.rng) : null,
      audioSample: Q > 0 && audio.useSampling && audio.temperature > 0 ? (l) => sampleToken(l, c.card, audio, this.rng) : null,
      depformer: Q > 0,
      vad: false,
      rng: this.rng,
    });
    this.offset += 1;
    this.cache[this.#at(0, this.offset)] = r.textToken;
    for (let k = 0; k < Q; k++) this.cache[this.#at(1 + k, this.offset)] = r.audioTokens[k];
    let frame = null;
    if (this.offset > this.maxDelay) {
      frame = new Int32Array(1 + Q);
      for (let k = 0; k <= Q; k++) frame[k] = this.cache[this.#at(k, this.offset - this.maxDelay + c.delays[k])];
    }
    return { tokens, textToken: r.textToken, audioTokens: r.audioTokens, frame };
  }

  reset() {
    this.stepper.reset();
    this.rng.reseed(this.params.seed);
    this.#init();
  }

  dispose() {
    this.stepper.dispose();
  }
}

function generated(loop, s) {
  return {
    step: loop.offset,
    textToken: s.textToken,
    audio: s.frame ? s.frame.slice(1) : null,
    frameText: s.frame ? s.frame[0] : null,
    backend: loop.stepper.backend,
  };
}

function requireDepformer(config, what) {
  if (config.depQ === 0) throw new KyutaiError(`${what} needs a model that generates audio (dep_q > 0); this one has dep_q = 0`, 'UNSUPPORTED');
}

// Text tokens in (the teacher-forced text stream), audio frames out; no user stream.
export class TtsLoop {
  #serial = new Serial();
  constructor(config, stepper, params) {
    requireDepformer(config, 'a TTS session');
    this.gen = new LmGenLoop(config, stepper, params);
    this.silent = new Int32Array(config.nQ - config.depQ).fill(-1);
  }
  pushText(token) {
    return this.#serial.run(async () => generated(this.gen, await this.gen.step(this.silent, Number(token))));
  }
  reset() {
    return this.#serial.run(() => this.gen.reset());
  }
  dispose() {
    return this.#serial.run(() => this.gen.dispose());
  }
}

// Moshi: the user's audio frames in, the model's text and audio out.
export class DuplexLoop {
  #serial = new Serial();
  constructor(config, stepper, params) {
    requireDepformer(config, 'a full-duplex session');
    this.config = config;
    this.gen = new LmGenLoop(config, stepper, params);
  }
  pushFrame(codes) {
    return this.#serial.run(async () => {
      const c = this.config;
      const n = codes?.length;
      if (typeof n === 'number' && n !== c.nQ - c.depQ) throw new KyutaiError(`expected ${c.nQ - c.depQ} codebooks in the user frame, got ${n}`, 'INVALID_ARGUMENT');
      return generated(this.gen, await this.gen.step(codes));
    });
  }
  reset() {
    return this.#serial.run(() => this.gen.reset());
  }
  dispose() {
    return this.#serial.run(() => this.gen.dispose());
  }
}
