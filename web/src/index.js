// kyutai-wasm: Kyutai's speech language models in the browser (and Node).
//
//   const model = await loadModel({ config: 'stt/config.json', weights: 'stt/model.safetensors' });
//   const asr = await model.createAsrSession();
//   const step = await asr.pushFrame(codes);          // or pushAudio(Float32Array(1920))
//   await model.dispose();
//
// In browsers the engine runs in a Web Worker (one per model) and every call is a message;
// in Node, or with {worker: false}, the same Host runs in this thread. Either way every
// method returns a promise, typed arrays go in and come out, and errors are KyutaiError
// with the engine's message and a stable `code`.
import { KyutaiError } from './errors.js';
import { invalid, options as optionsOf, optional, withMethod } from './validate.js';
import { RpcClient, workerEndpoint, inProcessEndpoint } from './client.js';
import { createEngine } from './engine.js';
import { isNode, baseUrl, absoluteUrl, configText, bytesSource } from './inputs.js';
import { abortedError } from './sources.js';
import { CALL, defineProxies, pickOptions } from './protocol.js';
import { ResultStream } from './result-stream.js';
import { resolveModel, hubProgress, DEFAULT_HUB } from './hub.js';
import { Transcriber, transcribe } from './transcriber.js';
import { createSpeaker } from './speaker.js';

// Client-side options of live streams (the engine side checks the rest: protocol.js).
const STREAM_OPTIONS = optionsOf({ playback: optional(withMethod('channel', 'an AudioPlayback (createPlayback)')) });

export { KyutaiError } from './errors.js';
export { MimiFrameTokenizer, checkFrameTokenizer, FRAME_SIZE, SAMPLE_RATE, FRAME_RATE } from './frame-tokenizer.js';
export { Transcriber, toMono24k } from './transcriber.js';
export { resample } from './resample.js';
export { wordsToCues, toWebVTT, toSRT, parseWebVTT, parseSRT } from './captions.js';
export { createCapture, createPlayback, openMicrophone, AudioCapture, AudioPlayback } from './audio.js';
export { listCachedModels, deleteCachedModel, clearModelCache, modelCacheAvailable } from './model-cache.js';
export { ResultStream };
export { resolveModel, hubFileUrl, isModelName, DEFAULT_HUB, KYUTAI_MIMI_CONFIG } from './hub.js';
export { Speaker } from './speaker.js';
export { voiceFileUrl, KYUTAI_VOICE_REPO } from './hub.js';

// ---------------------------------------------------------------------------------------
// loadModel

// One engine per thread setting for in-process use: models share the WebAssembly instance.
const inProcessEngines = new Map();

// loadModel(options) with the files given one by one, or loadModel('owner/name', options)
// for a repository laid out as Kyutai publishes it (web/src/hub.js; `hub` is the URL
// template, `revision` the branch): its config, weights, Mimi codec and tokenizer.
export async function loadModel(nameOrOptions = {}, maybeOptions = {}) {
  if (typeof nameOrOptions !== 'string') return loadFiles(nameOrOptions);
  const { hub, revision, ...options } = maybeOptions ?? {};
  const found = await resolveModel(nameOrOptions, { hub, revision });
  const { config, weights, tokenizer, frameTokenizer } = found;
  const model = await loadFiles({
    config, weights, tokenizer, frameTokenizer,
    ...options,
    ...(options.frameTokenizer && frameTokenizer ? { frameTokenizer: { ...frameTokenizer, ...options.frameTokenizer } } : {}),
    onProgress: hubProgress(found.files, options.onProgress),
  }, found.files);
  model.hub = { hub: hub ?? DEFAULT_HUB, modelId: config.model_id ?? null };  // voice names (speaker.js)
  return model;
}

async function loadFiles(options = {}, files = undefined) {
  const { config, weights, onProgress, tokenizer, frameTokenizer, workerUrl, signal } = options;
  const engineOptions = pickOptions('engine', options);
  for (const name of ['moduleUrl', 'assetBase']) if (name in engineOptions) engineOptions[name] = absoluteUrl(engineOptions[name]);
  const abort = abortPort(signal);
  const worker = options.worker ?? (!isNode && typeof Worker !== 'undefined');
  if (worker && isNode) throw new KyutaiError('worker: true needs a browser Web Worker; in Node the engine runs in-process', 'UNSUPPORTED');

  let endpoint;
  if (worker) {
    endpoint = workerEndpoint(workerUrl);
  } else {
    const key = JSON.stringify(engineOptions);
    if (!inProcessEngines.has(key)) {
      const engine = createEngine(engineOptions);
      inProcessEngines.set(key, engine);
      engine.catch(() => inProcessEngines.delete(key));
    }
    endpoint = inProcessEndpoint({ engine: inProcessEngines.get(key) });
  }
  const client = new RpcClient(endpoint);
  try {
    const engineInfo = await client.call(0, 'init', [engineOptions]);
    const text = await configText(config);
    const w = await bytesSource(weights, worker, 'weights');
    const transfer = [...w.transfer];
    let tok = null;
    if (tokenizer !== undefined && tokenizer !== null) {
      const t = await bytesSource(tokenizer, worker, 'tokenizer');
      tok = t.source;
      transfer.push(...t.transfer);
    }
    let frames = frameTokenizer;
    if (frames && typeof frames === 'object' && frames.type === 'mimi') {
      const m = await bytesSource(frames.weights, worker, 'Mimi weights');
      frames = { type: 'mimi', config: await configText(frames.config, 'Mimi config'), weights: m.source, format: frames.format };
      transfer.push(...m.transfer);
    } else if (frames && typeof frames === 'object' && (typeof frames.module === 'string' || frames.module instanceof URL)) {
      frames = { ...frames, module: new URL(frames.module, baseUrl()).href };
    } else if (frames && typeof frames === 'object' && typeof frames.encode === 'function' && worker) {
      throw new KyutaiError('frameTokenizer: a tokenizer object cannot cross into the engine worker; pass {module: url} (a module exporting a factory) or use {worker: false}', 'INVALID_ARGUMENT');
    }
    abort.check();
    if (abort.port) transfer.push(abort.port);
    const info = await client.call(0, 'loadModel', [{
      ...pickOptions('loader', options), ...pickOptions('host', options),
      config: text, weights: w.source, weightsSize: w.size, tokenizer: tok, frameTokenizer: frames, abort: abort.port,
    }], { transfer, onProgress });
    const model = new KyutaiModel(client, info, engineInfo);
    if (files) model.files = files;
    return model;
  } catch (e) {
    client.close();
    throw e;
  } finally {
    abort.close();
  }
}

// loadModel's `signal` (an AbortSignal): its abort reaches the engine side (worker or not)
// through a MessagePort, where it stops the load with ABORTED and frees what was loaded.
function abortPort(signal) {
  if (signal === undefined || signal === null) return { port: null, check() {}, close() {} };
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw invalid('loadModel(options).signal', signal, 'an AbortSignal');
  }
  const check = () => {
    if (signal.aborted) throw abortedError('loadModel');
  };
  check();
  const { port1, port2 } = new MessageChannel();
  const onAbort = () => port1.postMessage('abort');
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    port: port2,
    check,
    close() {
      signal.removeEventListener('abort', onAbort);
      port1.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Remote objects

class Remote {
  #disposed = false;
  constructor(client, id) {
    this.client = client;
    this.id = id;
  }
  get disposed() {
    return this.#disposed;
  }
  call(method, args, options) {
    if (this.#disposed) return Promise.reject(new KyutaiError(`${this.constructor.name} was disposed`, 'INVALID_STATE'));
    return this.client.call(this.id, method, args, options);
  }
  [CALL](method, args, options) {
    return this.call(method, args, options);
  }
  markDisposed() {
    const was = this.#disposed;
    this.#disposed = true;
    return !was;
  }
}

export class KyutaiModel extends Remote {
  #sessions = new Set();

  constructor(client, info, engineInfo) {
    super(client, info.id);
    this.config = info.config;
    this.backend = info.backend;              // 'webgpu', 'wasm-simd' or 'wasm-simd-threads'
    this.backendReason = info.backendReason;  // why this backend (and why not WebGPU)
    this.threads = info.threads;
    this.kvCache = info.kvCache;              // 'f32' or 'bf16' (loadModel's kvCache)
    this.weightBytes = info.weightBytes;
    this.bytesPerFrame = info.bytesPerFrame;  // weight bytes one frame reads (bandwidth floor)
    // How the weights arrived: {source: 'network' | 'cache' | 'local', contentHash, bytes,
    // loadMs, exportMs, cached, cacheError, heap: {sizeBefore, sizeAfter, peakInUse, ...}}.
    this.load = info.load;
    this.frameTokenizer = info.frameTokenizer;
    this.engine = engineInfo;
    this.textTokenizer = info.textTokenizer ? new TextTokenizer(this, info.textTokenizer.vocabSize) : null;
  }

  get inWorker() {
    return this.client.inWorker;
  }

  async #session(kind, Kind, options) {
    const { id } = await this.call('createSession', [kind, options ?? {}]);
    const session = new Kind(this, id, kind);
    this.#sessions.add(session);
    return session;
  }
  createAsrSession(options) {
    return this.#session('asr', AsrSession, options);
  }
  createTtsSession(options) {
    return this.#session('tts', TtsSession, options);
  }
  createDuplexSession(options) {
    return this.#session('duplex', DuplexSession, options);
  }

  // Speech-to-text as Kyutai ships it (web/src/transcriber.js): audio in, words with start
  // and end times, per-frame pause probabilities and end-of-turn events out. Options:
  // vadHead (2), endOfTurnThreshold (0.5), temperature (0: greedy), seed, silenceCodes.
  async createTranscriber(options = {}) {
    const info = await this.call('createTranscriber', [options ?? {}]);
    const transcriber = new Transcriber(this, info, ResultStream);
    this.#sessions.add(transcriber);
    return transcriber;
  }

  // A whole clip (Float32Array at `sampleRate`, default 24000, or an AudioBuffer) ->
  // {words, endsOfTurn, duration}; resampled to 24 kHz when needed.
  transcribe(audio, options) {
    return transcribe(this, audio, options);
  }

  // Kyutai's TTS in one voice (web/src/speaker.js): options voice (a kyutai/tts-voices file:
  // URL, path, bytes, Blob; or its name when the model came by name), cfg (2), nQ, sampling,
  // temperature, seed, maxGenLength. The model's tokenizer and Mimi codec do the rest.
  async createSpeaker(options) {
    const speaker = await createSpeaker(this, options, (...a) => this.call(...a));
    this.#sessions.add(speaker);
    return speaker;
  }

  forget(session) {
    this.#sessions.delete(session);
  }

  // The backend new sessions get now ({backend, backendReason}; also updates this.backend):
  // after a lost GPU device, the WebAssembly build.
  async backendStatus() {
    const s = await this.call('backendStatus');
    this.backend = s.backend;
    this.backendReason = s.backendReason;
    return s;
  }

  // simulateDeviceLoss() (generated from web/src/protocol.js), a testing aid: destroys the
  // WebGPU device as a driver reset would. Running sessions carry on with WebAssembly from
  // the same state; results report `backend` per frame.

  // Frees the model, its sessions and streams, and (through a worker) the worker itself.
  async dispose() {
    if (!this.markDisposed()) return;
    for (const s of this.#sessions) s.markDisposed();
    this.#sessions.clear();
    try {
      await this.client.call(0, 'dispose', [this.id]);
    } finally {
      this.client.close();  // through a worker, this terminates it
    }
  }
}

// SentencePiece tokenizer of the model (engine.loadTokenizer), through the model's host:
// encode(text), decode(ids), decodeWord(ids), idToPiece(id), generated from protocol.js.
export class TextTokenizer {
  #model;
  constructor(model, vocabSize) {
    this.#model = model;
    this.vocabSize = vocabSize;
  }
  [CALL](method, args) {
    return this.#model.call(method, args);
  }
}

class Session extends Remote {
  constructor(model, id, kind) {
    super(model.client, id);
    this.model = model;
    this.kind = kind;
  }
  // reset(): back to step 0 (closes live streams of this session); flush(): words still
  // being spelled when the input ends. Both generated from protocol.js.
  async dispose() {
    if (!this.markDisposed()) return;
    this.model.forget(this);
    if (!this.model.disposed) await this.client.call(0, 'dispose', [this.id]);
  }

  // Live audio in: from an AudioCapture (frames go from its worklet straight to the engine,
  // never through this thread) or from a MessagePort that receives Float32Array frames (or
  // {samples}). Returns a ResultStream.
  async connect(source, options) {
    STREAM_OPTIONS(options, 'connect(options)');
    const { maxQueuedFrames = 25, playback = null } = options ?? {};
    let enginePort;
    let capturePort = null;
    if (typeof source?.attach === 'function') {
      const channel = new MessageChannel();
      capturePort = channel.port1;
      enginePort = channel.port2;
    } else if (source && typeof source.postMessage === 'function' && 'onmessage' in source) {
      enginePort = source;
    } else {
      throw new KyutaiError('connect: expected an AudioCapture or a MessagePort', 'INVALID_ARGUMENT');
    }
    const transfer = [enginePort];
    const playbackPort = playback ? playback.channel() : null;
    if (playbackPort) transfer.push(playbackPort);
    const { id } = await this.call('connect', [enginePort, { maxQueuedFrames, playback: playbackPort }], { transfer });
    const stream = new ResultStream(this.client, id);
    if (capturePort) await source.attach(capturePort);
    return stream;
  }
}

// pushFrame(codes): the model's n_q audio codes of one frame (Int32Array or number[]);
// pushAudio(samples): one frame (Float32Array of frameTokenizer.frameSize) -> its codes and
// the step; null while a streaming codec is still warming up. Generated from protocol.js.
export class AsrSession extends Session {}

// pushFrame(codes): the user's codes (n_q - dep_q) -> the model's text token and audio codes
// (and samples, when the frame tokenizer decodes); pushAudio(samples) as for ASR.
export class DuplexSession extends Session {}

// pushText(token): one frame with `token` on the text stream (-1: none; padding ids allowed).
export class TtsSession extends Session {
  // Text (needs the model's text tokenizer) or token ids -> a ResultStream of frames, one
  // token forced per frame, then `tailFrames` frames of padding. Decoded audio goes to
  // `playback` (an AudioPlayback) when given.
  async speak(input, options) {
    STREAM_OPTIONS(options, 'speak(options)');
    const { tailFrames = 0, playback = null } = options ?? {};
    if (typeof input !== 'string' && !Array.isArray(input) && !ArrayBuffer.isView(input)) {
      throw invalid('speak(input)', input, 'text, an Int32Array or an array of token ids');
    }
    let tokens;
    if (typeof input === 'string') {
      if (!this.model.textTokenizer) throw new KyutaiError('speak(text) needs a text tokenizer: pass `tokenizer` to loadModel, or give token ids', 'INVALID_STATE');
      tokens = Array.from(await this.model.textTokenizer.encode(input));
    } else {
      tokens = Array.from(input);
    }
    const playbackPort = playback ? playback.channel() : null;
    const { id } = await this.call('speak', [tokens, { tailFrames, playback: playbackPort }], { transfer: playbackPort ? [playbackPort] : [] });
    return new ResultStream(this.client, id);
  }
}

defineProxies('model', { KyutaiModel, TextTokenizer });
defineProxies('session', { Session, AsrSession, DuplexSession, TtsSession });
