// The engine side of the RPC layer. A Host owns one Engine (the WebAssembly module) and a
// table of live objects (models, sessions, tokenizers, audio streams) by numeric id, and
// executes request messages against them. The same Host runs inside the package's Web
// Worker (worker.js) and, in Node or with {worker: false}, in the caller's own thread
// (client.js connects to it directly); both paths exchange exactly the same messages:
//
//   caller -> host   {type: 'call', id, target, method, args}        target 0 is the host
//   host -> caller   {type: 'result', id, value}
//                    {type: 'error', id, error: {name, code, message, stack}}
//                    {type: 'progress', id, data}                     during a long call
//                    {type: 'event', target, name, data}              from a live object
//
// Only methods listed in a class's static `remote` are callable. Typed arrays in results are
// fresh copies, so their buffers are transferred (no copy) when a worker posts them back.
import { createEngine } from './engine.js';
import { KyutaiError, serializeError } from './errors.js';
import { readAll } from './sources.js';
import { BandEnergyTokenizer, MimiFrameTokenizer, checkFrameTokenizer, FRAME_RATE, FRAME_SIZE } from './frame-tokenizer.js';
import { FrameQueue } from './frame-queue.js';
import { WordAssembler, SessionWords } from './words.js';
import { selectBackend, BACKENDS } from './webgpu/backend.js';
import { loadLmWithCache } from './model-cache.js';

const now = () => performance.now();
const FRAME_MS = 1000 / FRAME_RATE;  // 80 ms of audio per frame

// Lets queued messages (new frames, calls) in between two frames of inference.
// setImmediate in Node; a MessageChannel elsewhere (setTimeout would be clamped to 4 ms).
let yieldChannel = null;
const yieldQueue = [];
function yieldToEventLoop() {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (!yieldChannel) {
    yieldChannel = new MessageChannel();
    yieldChannel.port1.onmessage = () => yieldQueue.shift()?.();
  }
  return new Promise((resolve) => {
    yieldQueue.push(resolve);
    yieldChannel.port2.postMessage(0);
  });
}

// Buffers of the typed arrays in a result, for the transfer list.
export function collectTransfer(value, out = new Set(), depth = 0) {
  if (!value || typeof value !== 'object' || depth > 4) return out;
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteLength === value.buffer.byteLength) out.add(value.buffer);
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collectTransfer(v, out, depth + 1);
  return out;
}

// then(value) now for a value, after it for a promise (sessions on WebGPU are asynchronous;
// the engine's own sessions stay synchronous).
function later(value, then) {
  return typeof value?.then === 'function' ? value.then(then) : then(value);
}

function needEngineMethod(engine, name, what) {
  if (typeof engine[name] !== 'function') {
    throw new KyutaiError(`${what} is not available in this build of the engine (engine.${name} is missing)`, 'UNSUPPORTED');
  }
}

// Throttled progress: at most one message per 1% or per 100 ms, plus the last one and the
// first of every phase. Sends {phase, loaded, total, tensors} (+ {file, files} for shards).
function progressReporter(send, knownTotal) {
  let lastTime = -Infinity;
  let lastFraction = -1;
  let lastPhase = null;
  return (p) => {
    const phase = p.phase ?? 'download';
    const total = p.totalBytes ?? (phase === 'download' || phase === 'convert' ? knownTotal : undefined);
    const data = { phase, loaded: p.bytes ?? 0, total, tensors: p.tensors };
    if (p.files > 1) {
      data.file = p.file;
      data.files = p.files;
    }
    const fraction = total ? data.loaded / total : 0;
    const t = now();
    if (phase !== lastPhase || fraction >= 1 || t - lastTime >= 100 || fraction - lastFraction >= 0.01) {
      lastTime = t;
      lastFraction = fraction;
      lastPhase = phase;
      send(data);
    }
  };
}

export class Host {
  static remote = ['init', 'loadModel', 'dispose', 'describe'];

  #post;
  #engine = null;
  #engineOptions = {};
  #objects = new Map();
  #nextId = 1;

  // post(message, transfer) delivers a message to the caller.
  constructor(post, { engine = null } = {}) {
    this.#post = post;
    this.#engine = engine ? Promise.resolve(engine) : null;
  }

  // ---- the message loop ----
  async handle(message) {
    if (!message || message.type !== 'call') return;
    const { id, target, method, args = [] } = message;
    try {
      const receiver = target === 0 ? this : this.#objects.get(target);
      if (!receiver) throw new KyutaiError(`object #${target} does not exist (it was disposed)`, 'INVALID_STATE');
      if (!receiver.constructor.remote?.includes(method)) {
        throw new KyutaiError(`${receiver.constructor.name} has no remote method '${method}'`, 'INVALID_ARGUMENT');
      }
      const ctx = { progress: (data) => this.#post({ type: 'progress', id, data }) };
      // Synchronous methods run to completion right here, before the next message is
      // handled, so calls on one session keep their order.
      const value = await receiver[method](ctx, ...args);
      this.#post({ type: 'result', id, value }, [...collectTransfer(value)]);
    } catch (error) {
      this.#post({ type: 'error', id, error: serializeError(error) });
    }
  }

  emit(target, name, data, transfer = []) {
    this.#post({ type: 'event', target, name, data }, transfer);
  }

  register(object) {
    const id = this.#nextId++;
    this.#objects.set(id, object);
    object.id = id;
    return id;
  }

  unregister(id) {
    this.#objects.delete(id);
  }

  get engine() {
    if (!this.#engine) this.#engine = createEngine(this.#engineOptions);
    return this.#engine;
  }

  // ---- remote methods of the host itself (target 0) ----
  async init(ctx, { threads, moduleUrl, relaxedSimd } = {}) {
    if (!this.#engine) {
      this.#engineOptions = { threads, moduleUrl, relaxedSimd };
    }
    return this.describe(ctx);
  }

  async describe() {
    const engine = await this.engine;
    return {
      backend: engine.backend,
      threaded: engine.threaded,
      relaxedSimd: engine.relaxedSimd,
      hardwareConcurrency: globalThis.navigator?.hardwareConcurrency ?? 1,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      heapBytes: engine.heapBytes(),
      textTokenizer: typeof engine.loadTokenizer === 'function',
      mimi: typeof engine.loadMimi === 'function',
    };
  }

  async loadModel(ctx, { config, weights, format, threads, kvCache, tokenizer = null, frameTokenizer, weightsSize, backend = 'auto', cache = true, maxBytes } = {}) {
    const engine = await this.engine;
    if (typeof config !== 'string') throw new KyutaiError('config: expected JSON text', 'INVALID_ARGUMENT');
    // Fail before the (long) weight download when the engine lacks a part asked for.
    const hasTokenizer = tokenizer !== null && tokenizer !== undefined;
    if (hasTokenizer) needEngineMethod(engine, 'loadTokenizer', 'the SentencePiece text tokenizer');
    if (frameTokenizer?.type === 'mimi') needEngineMethod(engine, 'loadMimi', 'the Mimi codec');
    if (!BACKENDS.includes(backend ?? 'auto')) {
      throw new KyutaiError(`backend: expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`, 'INVALID_ARGUMENT');
    }
    if (threads === undefined || threads === null) threads = defaultThreads(engine);
    else if (engine.threaded) threads = Math.max(1, Math.min(threads, poolSize()));
    // Streams the weights (or their cached conversion, web/src/model-cache.js) into the engine.
    const { lm, info: load } = await loadLmWithCache(engine, config, weights, {
      format, threads, kvCache, cache, maxBytes, onProgress: progressReporter(ctx.progress, weightsSize),
    });
    let text = null;
    let frames = null;
    let choice = null;
    try {
      // WebGPU or WebAssembly (web/src/webgpu/backend.js); the LM stays loaded either way.
      choice = await selectBackend({ engine, lm, configText: config, format, backend: backend ?? 'auto' });
      if (hasTokenizer) text = await engine.loadTokenizer(await readAll(tokenizer));
      frames = await FrameTokenizerSource.create(engine, frameTokenizer, lm.config, codecThreads(engine, threads));
    } catch (e) {
      text?.dispose();
      choice?.gpu?.dispose();
      lm.dispose();
      throw e;
    }
    const model = new ModelServant(this, lm, text, frames, choice);
    model.loadInfo = load;
    ctx.progress({ phase: 'ready', loaded: load.bytes, total: load.bytes, source: load.source });
    return model.describe();
  }

  dispose(ctx, id) {
    const object = this.#objects.get(id);
    if (object) object.dispose();
    return !!object;
  }
}

function poolSize() {
  return Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1);
}

// Threads the LM uses by default: one per core in the pthreads build (the pthread pool holds
// navigator.hardwareConcurrency workers; asking for more than the pool could wait forever
// for a worker that only starts once this thread yields), one otherwise.
function defaultThreads(engine) {
  return engine.threaded ? poolSize() : 1;
}

// Threads of the Mimi codec next to an LM on `lmThreads`: each has its own kernel pool, so
// together they must fit the pthread pool (the LM holds lmThreads - 1 workers of it); the
// codec takes what is left, up to lmThreads. They never run at the same time (one engine
// thread steps both), so the two pools do not compete for cores.
function codecThreads(engine, lmThreads) {
  if (!engine.threaded) return 1;
  return Math.max(1, Math.min(lmThreads, poolSize() - (lmThreads - 1) + 1));
}

// ---- frame tokenizers, one per session ----
// Stateless-to-create tokenizers (the placeholder, user modules) get a fresh instance per
// session. Mimi is loaded once per model (its weights are the big part) and every session
// gets a stream of its own on those weights (codec.createStream), sized to what the
// session's model reads and writes, so sessions never interleave frames in one codec state.
// A tokenizer object given in-process is a single instance: a session leases it exclusively.
class FrameTokenizerSource {
  static async create(engine, spec, config, threads) {
    spec ??= 'band-energy';
    if (spec === 'band-energy' || spec.type === 'band-energy') {
      const options = { codebooks: config.nQ, card: config.card, ...(spec.options ?? {}) };
      new BandEnergyTokenizer(options);  // validate now, not at the first frame
      return new FrameTokenizerSource('band-energy', () => new BandEnergyTokenizer(options));
    }
    if (spec.type === 'mimi') {
      needEngineMethod(engine, 'loadMimi', 'the Mimi codec');
      const codec = await engine.loadMimi(spec.config, spec.weights, { threads, format: spec.format });
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
      source.info = { kind: 'mimi', frameSize: codec.frameSize, codebooks: codec.numCodebooks, canDecode: true, cardinality: codec.cardinality, threads: codec.threads };
      return source;
    }
    if (typeof spec.module === 'string') {
      // A user tokenizer that can live in the worker: a module whose default export (or
      // `createFrameTokenizer`) makes one tokenizer: (options, {engine, config}) => tokenizer.
      const mod = await import(/* @vite-ignore */ spec.module);
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
    throw new KyutaiError(`frameTokenizer: expected 'band-energy', {type: 'mimi', config, weights}, {module: url} or a tokenizer object, got ${JSON.stringify(spec)}`, 'INVALID_ARGUMENT');
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

function describeTokenizer(kind, t) {
  return { kind, frameSize: t.frameSize, codebooks: t.codebooks, canDecode: typeof t.decode === 'function' };
}

// ---- models ----
class ModelServant {
  static remote = ['createSession', 'createTranscriber', 'describe', 'textEncode', 'textDecode', 'textDecodeWord', 'textIdToPiece', 'backendStatus', 'simulateDeviceLoss'];

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
    const opts = mimi ? { ...options, mimi } : options ?? {};
    const engineSession = gpu ? gpu.createSession(kind, opts) : mimi ? this.lm.createDuplexPipeline(opts) : this.lm[make](opts);
    const session = new SessionServant(this, kind, engineSession, { pipeline: !!mimi });
    return { id: session.id, kind, step: 0 };
  }

  // Speech-to-text as Kyutai ships it: a TranscriberServant (below).
  createTranscriber(ctx, options = {}) {
    return new TranscriberServant(this, options ?? {}).describe();
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

// ---- sessions: the pipeline frame -> codes -> LM step -> words / audio ----
class SessionServant {
  static remote = ['pushFrame', 'pushAudio', 'pushText', 'flush', 'reset', 'connect', 'speak'];

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
    // Kyutai's word rule runs in the engine (src/session/word_stream.h), fed each step's token.
    this.words = new SessionWords(model.lm.engine.module, {
      paddingId: c.textPaddingId,
      endPaddingId: c.textEndPaddingId,
      delaySteps: kind === 'asr' ? c.asrDelayInTokens : 0,
      frameRate: FRAME_RATE,
      tokenizer: model.text,
    });
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

  // A pipeline's result: its word events paired as the caller's words.
  #pipelineResult(result) {
    const { words, ended } = this.words.take(result.words);
    result.words = words;
    result.ended = ended;
    return result;
  }

  #withWords(result, token) {
    const { words, ended } = this.words.push(token);
    result.words = words;
    result.ended = ended;
    return result;
  }

  // Generated audio codes -> samples, when the frame tokenizer can decode.
  #decode(result) {
    result.pcm = result.audio && this.tokenizer?.decode ? this.tokenizer.decode(result.audio) : null;
    return result;
  }

  pushFrame(ctx, codes) {
    if (this.kind === 'tts') throw new KyutaiError('a TTS session takes text: use pushText', 'INVALID_STATE');
    if (this.pipeline) return later(this.session.pushFrame(codes), (r) => this.#pipelineResult(r));
    const finish = (r) => this.#withWords(this.kind === 'duplex' ? this.#decode(r) : r, r.textToken);
    return later(this.session.pushFrame(codes), finish);  // GPU sessions answer with a promise
  }

  // Synchronous core of pushAudio and of audio streams (the tokenizer is acquired already).
  processAudio(samples) {
    if (this.pipeline) {
      if (!(samples instanceof Float32Array) || samples.length !== this.frameSize) {
        throw new KyutaiError(`audio frame: expected a Float32Array of ${this.frameSize} samples, got ${samples?.constructor?.name}(${samples?.length})`, 'INVALID_ARGUMENT');
      }
      return later(this.session.pushAudio(samples), (r) => this.#pipelineResult(r));  // one engine call
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
    return later(this.session.pushText(token), (r) => this.#withWords(this.#decode(r), token));
  }

  flush() {
    if (this.pipeline) return later(this.session.flush(), (events) => this.words.take(events).words);
    return this.words.flush();
  }

  // A live stream of this session ended: its last words.
  endOfStream() {
    return this.flush();
  }

  reset() {
    for (const s of [...this.streams]) s.close();
    return later(this.session.reset(), () => {
      this.tokenizer?.reset?.();
      this.words.reset();
    });
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
    this.words.dispose();
    this.model.sessions.delete(this);
    this.model.host.unregister(this.id);
  }
}

// ---- speech-to-text as Kyutai ships it (the caller's side: web/src/transcriber.js) ----
// The engine's Transcriber (src/session/transcriber.h: Kyutai's alignment, word stream,
// semantic VAD, end of turn, flush with silence) on 1920-sample frames. Audio of any length
// is cut into frames here (a partial frame waits for the next push; flush pads it with
// silence). With the model's Mimi the engine encodes the audio itself; with another frame
// tokenizer this encodes each frame and the engine steps on the codes. The engine's events
// become the caller's: Word + EndWord -> one {type: 'word', text, tokens, start, end}
// (words.js pairs them, the rule itself stays in C++), 'vad' -> {probabilities (the pause
// probability of each head), pause (the chosen head's), time}, 'endOfTurn' -> {probability,
// time}. It steps the LM on WebAssembly even when the model's sessions run on WebGPU.
class TranscriberServant {
  static remote = ['pushAudio', 'pushCodes', 'flush', 'reset', 'connect'];

  constructor(model, { vadHead, endOfTurnThreshold, temperature, seed, silenceCodes } = {}) {
    this.model = model;
    this.codec = model.frames.codec ?? null;  // Mimi, when the model was loaded with it
    const options = Object.fromEntries(Object.entries({ vadHead, endOfTurnThreshold, temperature, seed, silenceCodes }).filter(([, v]) => v !== undefined));
    this.transcriber = model.lm.createTranscriber({ mimi: this.codec, ...options });
    this.vadHead = vadHead ?? 2;
    this.words = new WordAssembler({ decode: model.text ? (ids) => model.text.decodeWord(ids) : null });
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
      if (e.type === 'word' || e.type === 'endWord') out.push(...this.words.push([e]));
      else if (e.type === 'vad') out.push({ type: 'vad', probabilities: Array.from(e.pause), pause: e.pause[this.vadHead], time: e.time, step: e.step });
      else if (e.type === 'endOfTurn') out.push({ type: 'endOfTurn', probability: e.probability, time: e.time, step: e.step });
    }
    return out;
  }

  // Samples of any length: every frame they complete is stepped. All or nothing: a bad
  // sample is refused before any frame runs, so the transcript never holds half a push.
  processSamples(samples) {
    if (!(samples instanceof Float32Array)) {
      throw new KyutaiError(`audio: expected a Float32Array of 24 kHz samples, got ${samples?.constructor?.name ?? samples}`, 'INVALID_ARGUMENT');
    }
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i])) throw new KyutaiError(`audio sample ${i} is ${Number.isNaN(samples[i]) ? 'NaN' : 'infinite'}; samples must be finite`, 'INVALID_ARGUMENT');
    }
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
    const out = this.#convert(events);
    out.push(...this.words.flush());  // nothing after the engine's flush; kept for safety
    return out;
  }

  // A new transcript from step 0; a connected capture keeps streaming into it.
  reset() {
    this.transcriber.reset();
    this.words.reset();
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

// Running averages and counters shared by the live streams.
class StreamStats {
  constructor() {
    this.framesReceived = 0;
    this.framesProcessed = 0;
    this.dropped = 0;
    this.queued = 0;
    this.computeMs = 0;      // last frame: tokenizer + LM step (+ decode)
    this.latencyMs = 0;      // last frame: arrival in the engine thread -> result
    this.meanComputeMs = 0;
    this.rtf = 0;            // mean compute time / audio duration of a frame (< 1: faster than real time)
  }
  record(computeMs, latencyMs, frameMs) {
    this.framesProcessed++;
    this.computeMs = computeMs;
    this.latencyMs = latencyMs;
    this.meanComputeMs += (computeMs - this.meanComputeMs) / this.framesProcessed;
    this.rtf = this.meanComputeMs / frameMs;
  }
  snapshot() {
    return { ...this };
  }
}

class AudioStreamServant {
  static remote = ['stats', 'close'];

  constructor(session, port, { maxQueuedFrames = 25, playback = null, recycle = true } = {}) {
    this.session = session;
    this.port = port;
    this.playback = playback;
    this.recycle = recycle;
    this.queue = new FrameQueue(maxQueuedFrames);
    this.stats = new StreamStats();
    this.frameMs = (session.frameSize / 24000) * 1000;
    this.pumping = false;
    this.closed = false;
    session.streams.add(this);
    session.model.host.register(this);
    port.onmessage = (e) => this.#onMessage(e.data);
  }

  #onMessage(data) {
    if (this.closed) return;
    const samples = data instanceof Float32Array ? data : data?.samples;
    if (!(samples instanceof Float32Array)) return;
    this.stats.framesReceived++;
    const dropped = this.queue.push({ samples, seq: data.seq, arrival: now() });
    if (dropped) {
      this.stats.dropped = this.queue.dropped;
      this.#giveBack(dropped.samples);
      this.#emit('stats', this.#snapshot());
    }
    this.#pump();
  }

  // Hands the frame's buffer back to the capture worklet for reuse (no allocation there).
  #giveBack(samples) {
    if (this.recycle && samples.buffer instanceof ArrayBuffer) {
      try {
        this.port.postMessage({ type: 'recycle', samples }, [samples.buffer]);
      } catch {}
    }
  }

  #snapshot() {
    const s = this.stats.snapshot();
    s.queued = this.queue.length;
    return s;
  }

  #emit(name, data, transfer = []) {
    this.session.model.host.emit(this.id, name, data, transfer);
  }

  async #pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length) {
        const item = this.queue.shift();
        const t0 = now();
        let result;
        try {
          result = await this.session.processAudio(item.samples);
        } catch (error) {
          this.#emit('error', serializeError(error));
          this.close();
          return;
        }
        const t1 = now();
        this.#giveBack(item.samples);
        this.stats.record(t1 - t0, t1 - item.arrival, this.frameMs);
        if (result) {
          result.seq = item.seq;
          result.timing = { queuedMs: t0 - item.arrival, computeMs: t1 - t0, latencyMs: t1 - item.arrival };
          result.stats = this.#snapshot();
          if (result.pcm && this.playback) {
            this.playback.postMessage({ type: 'frame', samples: result.pcm }, [result.pcm.buffer]);
            result.pcm = null;  // moved to the playback worklet
          }
          this.#emit('result', result, [...collectTransfer(result)]);
        }
        await yieldToEventLoop();  // let frames that arrived meanwhile into the bounded queue
      }
    } finally {
      this.pumping = false;
    }
  }

  stats() {
    return this.#snapshot();
  }

  close() {
    if (this.closed) return this.#snapshot();
    this.closed = true;
    // Final stats first: `queued` then counts the frames received but never processed.
    const stats = this.#snapshot();
    for (const item of this.queue.clear()) this.#giveBack(item.samples);
    this.port.onmessage = null;
    this.port.close();
    this.playback?.close?.();
    const words = this.session.endOfStream();
    this.#emit('end', { stats, words });
    this.session.streams.delete(this);
    this.session.model.host.unregister(this.id);
    return stats;
  }

  dispose() {
    this.close();
  }
}

// TTS: forces one text token per frame, then `tailFrames` frames of padding, emitting a
// result event per frame and sending decoded audio to the playback port when given.
class SpeechServant {
  static remote = ['close'];

  constructor(session, tokens, { tailFrames = 0, playback = null } = {}) {
    this.session = session;
    const pad = session.model.lm.config.textPaddingId;
    this.tokens = [...tokens, ...Array(Math.max(0, tailFrames)).fill(pad)];
    this.total = this.tokens.length;
    this.playback = playback;
    this.closed = false;
    this.stats = new StreamStats();
    session.streams.add(this);
    session.model.host.register(this);
    this.#run();
  }

  #emit(name, data, transfer = []) {
    this.session.model.host.emit(this.id, name, data, transfer);
  }

  async #run() {
    await yieldToEventLoop();  // the caller gets the id (and subscribes) before the first frame
    const frameMs = FRAME_MS;
    for (const token of this.tokens) {
      if (this.closed) return;
      const t0 = now();
      let result;
      try {
        result = await this.session.textStep(token);
      } catch (error) {
        this.#emit('error', serializeError(error));
        this.close();
        return;
      }
      const t1 = now();
      this.stats.framesReceived++;
      this.stats.record(t1 - t0, t1 - t0, frameMs);
      result.timing = { queuedMs: 0, computeMs: t1 - t0, latencyMs: t1 - t0 };
      result.stats = this.stats.snapshot();
      if (result.pcm && this.playback) {
        this.playback.postMessage({ type: 'frame', samples: result.pcm }, [result.pcm.buffer]);
        result.pcm = null;
      }
      this.#emit('result', result, [...collectTransfer(result)]);
      await yieldToEventLoop();
    }
    this.close();
  }

  close() {
    if (this.closed) return this.stats.snapshot();
    this.closed = true;
    const words = this.session.endOfStream();
    this.#emit('end', { stats: this.stats.snapshot(), words });
    this.session.streams.delete(this);
    this.session.model.host.unregister(this.id);
    return this.stats.snapshot();
  }

  dispose() {
    this.close();
  }
}
