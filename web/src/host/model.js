import { KyutaiError } from '../errors.js';
import { MimiFrameTokenizer, checkFrameTokenizer, FRAME_SIZE } from '../frame-tokenizer.js';
import { needEngineMethod } from './common.js';
import { loadMimiWithCache } from '../model-cache.js';
import { SessionServant } from './sessions.js';
import { TranscriberServant } from './transcriber.js';
import { SpeakerServant } from './speaker.js';

// ---- frame tokenizers, one per session ----
// User modules get a fresh instance per session. Mimi is loaded once per model (its weights
// are the big part) and every session gets a stream of its own on those weights
// (codec.createStream), sized to what the session's model reads and writes, so sessions never
// interleave frames in one codec state. A tokenizer object given in-process is a single
// instance: a session leases it exclusively. Without one, sessions take code frames only.
const ACCEPTED = "{type: 'mimi', config, weights} (Kyutai's codec), {module: url} or a tokenizer object";

export class FrameTokenizerSource {
  // signal: loadModel's abort, which stops Mimi's weights mid-stream too; cache: loadModel's
  // model-cache option, which Mimi's weights by URL follow as the LM's do (model-cache.js).
  static async create(engine, spec, config, threads, { signal, cache = true } = {}) {
    if (spec === undefined || spec === null) return new NoFrameTokenizer();
    if (spec === 'band-energy' || spec.type === 'band-energy') {
      throw new KyutaiError(`frameTokenizer: the 'band-energy' placeholder is no longer part of the package; expected ${ACCEPTED}, or none (code frames only: pushFrame)`, 'INVALID_ARGUMENT');
    }
    if (spec.type === 'mimi') {
      needEngineMethod(engine, 'loadMimi', 'the Mimi codec');
      const { codec, source: loadedFrom, cacheError } = await loadMimiWithCache(engine, spec.config, spec.weights, {
        loader: { threads, format: spec.format }, cache, signal,
      });
      try {
        if (codec.frameSize !== FRAME_SIZE) {
          throw new KyutaiError(`the Mimi config gives frames of ${codec.frameSize} samples; Kyutai's models step on ${FRAME_SIZE} (80 ms at 24 kHz)`, 'INVALID_CONFIG');
        }
        if (codec.cardinality > config.card) {
          throw new KyutaiError(`Mimi codes go up to ${codec.cardinality - 1} but the model's audio vocabulary has ${config.card} entries (card)`, 'INVALID_CONFIG');
        }
      } catch (e) {
        codec.dispose();
        throw e;
      }
      // need: {encode: codes the session reads per frame, decode: codes it writes}. A stream
      // holds one count, so a session that reads and writes different counts gets two.
      const make = ({ encode, decode } = {}) => {
        if (decode > codec.numCodebooks) {
          throw new KyutaiError(`the model writes ${decode} audio codebooks per frame, Mimi decodes at most ${codec.numCodebooks}`, 'INVALID_ARGUMENT');
        }
        const k = (n) => Math.min(n || codec.numCodebooks, codec.numCodebooks);
        const encoder = codec.createStream(k(encode));
        let decoder = null;
        try {
          if (decode && k(decode) !== k(encode)) decoder = codec.createStream(k(decode));
        } catch (e) {
          encoder.dispose();
          throw e;
        }
        return checkFrameTokenizer(new MimiFrameTokenizer(encoder, { decoder }), 'Mimi');
      };
      const source = new FrameTokenizerSource('mimi', make);
      source.codec = codec;
      source.info = { kind: 'mimi', frameSize: codec.frameSize, codebooks: codec.numCodebooks, canDecode: true, cardinality: codec.cardinality, threads: codec.threads, source: loadedFrom };
      if (cacheError) source.info.cacheError = cacheError;
      return source;
    }
    if (typeof spec.module === 'string') {
      // A user tokenizer that can live in the worker: a module whose default export (or
      // `createFrameTokenizer`) makes one tokenizer: (options, {engine, config}) => tokenizer.
      const mod = await import(/* @vite-ignore */ /* webpackIgnore: true */ spec.module);
      const factory = mod.createFrameTokenizer ?? mod.default;
      if (typeof factory !== 'function') {
        throw new KyutaiError(`frame tokenizer module ${spec.module} exports no function (default or createFrameTokenizer)`, 'INVALID_ARGUMENT');
      }
      const make = async () => checkFrameTokenizer(await factory(spec.options ?? {}, { engine, config }), spec.module);
      const first = await make();
      first.dispose?.();
      return new FrameTokenizerSource(first.kind ?? 'custom', make);
    }
    if (typeof spec.encode === 'function') {
      // An object made by the caller; only possible in-process (functions do not cross to a worker).
      return new FrameTokenizerSource(spec.kind ?? 'custom', null, checkFrameTokenizer(spec), false);
    }
    throw new KyutaiError(`frameTokenizer: expected ${ACCEPTED}, got ${JSON.stringify(spec)}`, 'INVALID_ARGUMENT');
  }

  constructor(kind, make, shared = null, owned = true) {
    this.kind = kind;
    this.make = make;
    this.shared = shared;
    this.owned = owned;  // dispose the shared instance with the model
    this.owner = null;
    if (shared) this.info = describeTokenizer(kind, shared);
  }

  async describe() {
    if (!this.info) {
      const t = await this.make();
      this.info = describeTokenizer(this.kind, t);
      t.dispose?.();
    }
    return this.info;
  }

  // need: {encode, decode} codes per frame of the session (used by Mimi's streams).
  async acquire(owner, need) {
    if (!this.shared) return this.make(need);
    if (this.owner && this.owner !== owner) {
      throw new KyutaiError(`the ${this.kind} frame tokenizer is in use by another session; dispose it first`, 'INVALID_STATE');
    }
    this.owner = owner;
    this.shared.reset?.();
    return this.shared;
  }

  release(owner, tokenizer) {
    if (!this.shared) tokenizer.dispose?.();
    else if (this.owner === owner) this.owner = null;
  }

  dispose() {
    if (this.shared && this.owned) this.shared.dispose?.();
    this.shared = null;
    this.codec?.dispose();  // the Mimi weights, once every session's stream is gone
    this.codec = null;
  }
}

// The model was loaded without a frame tokenizer: sessions step on code frames (pushFrame,
// pushCodes) and a TTS session gives codes without samples; audio in is refused.
class NoFrameTokenizer {
  kind = 'none';
  codec = null;

  describe() {
    return null;
  }

  acquire(owner) {
    if (owner.kind === 'tts') return null;  // a TTS session only decodes: it keeps its codes
    throw new KyutaiError(`this model was loaded without a frame tokenizer, so it takes code frames only (pushFrame); for audio pass loadModel's frameTokenizer: ${ACCEPTED}`, 'INVALID_STATE');
  }

  release() {}

  dispose() {}
}

function describeTokenizer(kind, t) {
  return { kind, frameSize: t.frameSize, codebooks: t.codebooks, canDecode: typeof t.decode === 'function' };
}

// ---- models ----
export class ModelServant {
  static protocol = 'model';

  constructor(host, lm, text, frames, choice = null) {
    this.host = host;
    this.lm = lm;
    this.text = text;
    this.frames = frames;
    this.gpu = choice?.gpu ?? null;  // a GpuModel when the LM runs on WebGPU
    this.backendReason = choice?.reason ?? null;
    this.sessions = new Set();
    host.register(this);
  }

  // Where new sessions run: 'webgpu' until the device fails, then the WebAssembly build.
  backendStatus() {
    if (this.gpu && !this.gpu.active) {
      return { backend: this.lm.engine.backend, backendReason: `fell back to WebAssembly: ${this.gpu.reason}` };
    }
    return { backend: this.gpu ? 'webgpu' : this.lm.engine.backend, backendReason: this.backendReason };
  }

  // Test hook: destroys the GPU device (as a driver reset would); sessions carry on with WebAssembly.
  simulateDeviceLoss() {
    if (!this.gpu) throw new KyutaiError('this model does not run on WebGPU', 'INVALID_STATE');
    this.gpu.loseDevice();
    return true;
  }

  async describe() {
    return {
      id: this.id,
      config: this.lm.config,
      weightBytes: this.lm.weightBytes(),
      bytesPerFrame: this.lm.bytesReadPerFrame(),
      load: this.loadInfo ?? null,
      threads: this.lm.threads(),
      kvCache: this.lm.kvCache(),
      ...this.backendStatus(),
      textTokenizer: this.text ? { vocabSize: this.text.vocabSize } : null,
      frameTokenizer: await this.frames.describe(),
    };
  }

  createSession(ctx, kind, options = {}) {
    const make = { asr: 'createAsrSession', tts: 'createTtsSession', duplex: 'createDuplexSession' }[kind];
    if (!make) throw new KyutaiError(`unknown session kind '${kind}' (asr, tts, duplex)`, 'INVALID_ARGUMENT');
    const gpu = this.gpu?.active ? this.gpu : null;
    // Duplex with Mimi: the engine's pipeline, PCM to PCM in one call per frame.
    const mimi = kind === 'duplex' ? this.frames.codec ?? null : null;
    // The engine pairs the words and, with the model's tokenizer, decodes their text.
    const opts = { ...options, tokenizer: this.text, ...(mimi ? { mimi } : {}) };
    const engineSession = gpu ? gpu.createSession(kind, opts) : mimi ? this.lm.createDuplexPipeline(opts) : this.lm[make](opts);
    const session = new SessionServant(this, kind, engineSession, { pipeline: !!mimi });
    return { id: session.id, kind, step: 0 };
  }

  // Speech-to-text as Kyutai ships it: a TranscriberServant (below).
  createTranscriber(ctx, options = {}) {
    return new TranscriberServant(this, options ?? {}).describe();
  }

  // Kyutai's TTS in one voice: a SpeakerServant (host/speaker.js) on the model's tokenizer and Mimi.
  async createSpeaker(ctx, options) {
    return (await SpeakerServant.create(this, options)).describe();
  }

  // A TTS voice from the caller's recording (24 kHz), as Kyutai's voice script makes one: Mimi's
  // latent of its first `seconds` (10), not quantized. For createSpeaker({voice}).
  createVoice(ctx, samples, { seconds } = {}) {
    const codec = this.frames?.codec;
    if (!codec?.encodeToLatent) {
      throw new KyutaiError('createVoice needs the model\'s Mimi codec: load the model with frameTokenizer {type: \'mimi\', ...} or by name', 'INVALID_STATE');
    }
    return codec.encodeToLatent(samples, { seconds: seconds ?? codec.engine.module.VOICE_SECONDS });
  }

  // The text tokenizer (SentencePiece), when the model has one.
  #text() {
    if (!this.text) throw new KyutaiError('this model was loaded without a text tokenizer (pass `tokenizer` to loadModel)', 'INVALID_STATE');
    return this.text;
  }
  textEncode(ctx, text) {
    return this.#text().encode(text);
  }
  textDecode(ctx, ids) {
    return this.#text().decode(ids);
  }
  textDecodeWord(ctx, ids) {
    return this.#text().decodeWord(ids);
  }
  textIdToPiece(ctx, id) {
    return this.#text().idToPiece(id);
  }

  dispose() {
    for (const s of [...this.sessions]) s.dispose();
    this.frames.dispose();
    this.text?.dispose();
    this.gpu?.dispose();
    this.lm.dispose();
    this.host.unregister(this.id);
  }
}
