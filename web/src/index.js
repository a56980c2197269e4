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
import { RpcClient, workerEndpoint, inProcessEndpoint } from './client.js';
import { createEngine } from './engine.js';
import { isShardIndexName, isShardList, parseShardIndex } from './sharded.js';
import { FRAME_SIZE, SAMPLE_RATE, FRAME_RATE } from './frame-tokenizer.js';
import { Transcriber, transcribe } from './transcriber.js';

export { KyutaiError } from './errors.js';
export { BandEnergyTokenizer, MimiFrameTokenizer, checkFrameTokenizer, FRAME_SIZE, SAMPLE_RATE, FRAME_RATE } from './frame-tokenizer.js';
export { WordAssembler } from './words.js';
export { Transcriber, toMono24k } from './transcriber.js';
export { resample } from './resample.js';
export { wordsToCues, toWebVTT, toSRT, parseWebVTT, parseSRT } from './captions.js';
export { createCapture, createPlayback, openMicrophone, AudioCapture, AudioPlayback } from './audio.js';
export { listCachedModels, deleteCachedModel, clearModelCache, modelCacheAvailable } from './model-cache.js';

const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

// ---------------------------------------------------------------------------------------
// Sources: config text, weight bytes

const isUrlString = (s) => /^(https?|blob|data|file):/i.test(s);

// What relative URLs are relative to: the page (or worker), or in Node the working directory.
function baseUrl() {
  return globalThis.document?.baseURI ?? globalThis.location?.href ??
    (isNode ? `file://${encodeURI(process.cwd().replace(/\/?$/, '/'))}` : undefined);
}

// Node: a file path or file: URL -> a path; anything else -> null.
async function nodePath(source) {
  if (!isNode) return null;
  const { fileURLToPath } = await import('node:url');
  if (source instanceof URL) return source.protocol === 'file:' ? fileURLToPath(source) : null;
  if (typeof source !== 'string') return null;
  if (/^file:/i.test(source)) return fileURLToPath(source);
  return isUrlString(source) ? null : source;
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new KyutaiError(`fetching ${url} failed: HTTP ${response.status}`, 'INVALID_ARGUMENT');
  return response;
}

// config: URL or path, JSON text, a parsed object, or bytes/Blob/Response of the JSON.
async function configText(config, what = 'config') {
  if (config === undefined || config === null) throw new KyutaiError(`${what} is required`, 'INVALID_ARGUMENT');
  if (typeof config === 'string' && config.trimStart().startsWith('{')) return config;
  const path = await nodePath(config);
  if (path) return (await import('node:fs')).promises.readFile(path, 'utf8');
  if (typeof config === 'string' || config instanceof URL) return (await fetchOk(new URL(config, baseUrl()))).text();
  if (typeof Response !== 'undefined' && config instanceof Response) return config.text();
  if (typeof Blob !== 'undefined' && config instanceof Blob) return config.text();
  if (config instanceof ArrayBuffer || ArrayBuffer.isView(config)) return new TextDecoder().decode(config);
  if (typeof config === 'object') return JSON.stringify(config);
  throw new KyutaiError(`${what}: expected a URL, JSON text or an object`, 'INVALID_ARGUMENT');
}

let streamTransfer;
function canTransferStreams() {
  if (streamTransfer === undefined) {
    try {
      const { port1 } = new MessageChannel();
      const rs = new ReadableStream();
      port1.postMessage(rs, [rs]);
      port1.close();
      streamTransfer = true;
    } catch {
      streamTransfer = false;
    }
  }
  return streamTransfer;
}

function iterableToStream(iterable) {
  const it = iterable[Symbol.asyncIterator] ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value instanceof Uint8Array ? value : new Uint8Array(value.buffer ?? value, value.byteOffset ?? 0, value.byteLength));
    },
    cancel: () => it.return?.(),
  });
}

// Weight (or tokenizer) bytes, made ready for the engine. Returns {source, transfer, size}.
// Through a worker: URLs become absolute (the worker fetches them itself, so the bytes never
// pass through the page), Blobs are cloned by reference, streams are transferred, and
// ArrayBuffers / typed arrays are copied (the caller keeps theirs).
async function bytesSource(source, inWorker, what) {
  if (source === undefined || source === null) throw new KyutaiError(`${what} is required`, 'INVALID_ARGUMENT');
  // A checkpoint in several files: {shards: [source, ...]}, each made ready the same way.
  if (isShardList(source)) {
    const parts = [];
    for (const shard of source.shards) parts.push(await bytesSource(shard, inWorker, what));
    const sizes = parts.map((p) => p.size);
    return {
      source: { shards: parts.map((p) => p.source) },
      transfer: parts.flatMap((p) => p.transfer),
      size: sizes.every((n) => n > 0) ? sizes.reduce((a, b) => a + b, 0) : undefined,
    };
  }
  const path = await nodePath(source);
  if (path && isShardIndexName(path)) {
    // Node: a sharded checkpoint's index file; its shards are read (lazily) from its folder.
    const fs = await import('node:fs');
    const { dirname, join } = await import('node:path');
    const index = parseShardIndex(await fs.promises.readFile(path, 'utf8'), path);
    const files = index.files.map((f) => join(dirname(path), f));
    const sizes = await Promise.all(files.map(async (f) => (await fs.promises.stat(f)).size));
    const lazy = (file) => ({ [Symbol.asyncIterator]: () => fs.createReadStream(file, { highWaterMark: 1 << 22 })[Symbol.asyncIterator]() });
    return { source: { shards: files.map(lazy) }, transfer: [], size: sizes.reduce((a, b) => a + b, 0) };
  }
  if (path) {
    const fs = await import('node:fs');
    const size = (await fs.promises.stat(path)).size;
    return { source: fs.createReadStream(path, { highWaterMark: 1 << 22 }), transfer: [], size };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, baseUrl()).href;
    return { source: url, transfer: [], size: undefined };
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return { source, transfer: [], size: source.byteLength };
  if (typeof Blob !== 'undefined' && source instanceof Blob) return { source, transfer: [], size: source.size };
  if (typeof Response !== 'undefined' && source instanceof Response) {
    const length = Number(source.headers.get('content-length'));
    const body = source.body;
    const inner = await bytesSource(body, inWorker, what);
    return { ...inner, size: length > 0 ? length : undefined };
  }
  const isStream = typeof source.getReader === 'function';
  if (!isStream && !(source[Symbol.asyncIterator] || source[Symbol.iterator])) {
    throw new KyutaiError(`${what}: expected a URL, ArrayBuffer, typed array, Blob, Response or ReadableStream`, 'INVALID_ARGUMENT');
  }
  if (!inWorker) return { source, transfer: [], size: undefined };
  const stream = isStream ? source : iterableToStream(source);
  if (canTransferStreams()) return { source: stream, transfer: [stream], size: undefined };
  // No transferable streams (older engines): collect into a Blob, which clones by reference.
  const blob = await new Response(stream).blob();
  return { source: blob, transfer: [], size: blob.size };
}

// ---------------------------------------------------------------------------------------
// loadModel

// One engine per thread setting for in-process use: models share the WebAssembly instance.
const inProcessEngines = new Map();

export async function loadModel(options = {}) {
  const { config, weights, format, threads, kvCache, onProgress, tokenizer, frameTokenizer, moduleUrl, workerUrl, backend, cache, maxBytes, relaxedSimd } = options;
  const worker = options.worker ?? (!isNode && typeof Worker !== 'undefined');
  if (worker && isNode) throw new KyutaiError('worker: true needs a browser Web Worker; in Node the engine runs in-process', 'UNSUPPORTED');

  let endpoint;
  if (worker) {
    endpoint = workerEndpoint(workerUrl);
  } else {
    const key = `${threads ?? ''}|${moduleUrl ?? ''}|${relaxedSimd ?? ''}`;
    if (!inProcessEngines.has(key)) {
      const engine = createEngine({ threads, moduleUrl, relaxedSimd });
      inProcessEngines.set(key, engine);
      engine.catch(() => inProcessEngines.delete(key));
    }
    endpoint = inProcessEndpoint({ engine: inProcessEngines.get(key) });
  }
  const client = new RpcClient(endpoint);
  try {
    const engineInfo = await client.call(0, 'init', [{ threads, moduleUrl, relaxedSimd }]);
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
    const info = await client.call(0, 'loadModel', [{
      config: text, weights: w.source, weightsSize: w.size, format, threads, kvCache, tokenizer: tok, frameTokenizer: frames, backend, cache, maxBytes,
    }], { transfer, onProgress });
    return new KyutaiModel(client, info, engineInfo);
  } catch (e) {
    client.close();
    throw e;
  }
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

  // Testing aid: destroys the WebGPU device as a driver reset would. Running sessions carry
  // on with WebAssembly from the same state; results report `backend` per frame.
  simulateDeviceLoss() {
    return this.call('simulateDeviceLoss');
  }

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

// SentencePiece tokenizer of the model (engine.loadTokenizer), through the model's host.
export class TextTokenizer {
  #model;
  constructor(model, vocabSize) {
    this.#model = model;
    this.vocabSize = vocabSize;
  }
  encode(text) {
    return this.#model.call('textEncode', [text]);
  }
  decode(ids) {
    return this.#model.call('textDecode', [ids]);
  }
  decodeWord(ids) {
    return this.#model.call('textDecodeWord', [ids]);
  }
  idToPiece(id) {
    return this.#model.call('textIdToPiece', [id]);
  }
}

class Session extends Remote {
  constructor(model, id, kind) {
    super(model.client, id);
    this.model = model;
    this.kind = kind;
  }
  // Back to step 0 (closes live streams of this session).
  reset() {
    return this.call('reset');
  }
  // Words still being spelled when the input ends.
  flush() {
    return this.call('flush');
  }
  async dispose() {
    if (!this.markDisposed()) return;
    this.model.forget(this);
    if (!this.model.disposed) await this.client.call(0, 'dispose', [this.id]);
  }

  // Live audio in: from an AudioCapture (frames go from its worklet straight to the engine,
  // never through this thread) or from a MessagePort that receives Float32Array frames (or
  // {samples}). Returns a ResultStream.
  async connect(source, { maxQueuedFrames = 25, playback = null } = {}) {
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

export class AsrSession extends Session {
  // codes: the model's n_q audio codes of one frame (Int32Array or number[]).
  pushFrame(codes) {
    return this.call('pushFrame', [codes]);
  }
  // samples: one frame (Float32Array of frameTokenizer.frameSize) -> its codes and the step;
  // null while a streaming codec is still warming up.
  pushAudio(samples) {
    return this.call('pushAudio', [samples]);
  }
}

export class DuplexSession extends Session {
  // The user's codes (n_q - dep_q) -> the model's text token and audio codes (and samples,
  // when the frame tokenizer decodes).
  pushFrame(codes) {
    return this.call('pushFrame', [codes]);
  }
  pushAudio(samples) {
    return this.call('pushAudio', [samples]);
  }
}

export class TtsSession extends Session {
  // One frame with `token` on the text stream (-1: none; padding ids allowed).
  pushText(token) {
    return this.call('pushText', [token]);
  }
  // Text (needs the model's text tokenizer) or token ids -> a ResultStream of frames, one
  // token forced per frame, then `tailFrames` frames of padding. Decoded audio goes to
  // `playback` (an AudioPlayback) when given.
  async speak(input, { tailFrames = 0, playback = null } = {}) {
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

// ---------------------------------------------------------------------------------------
// Results of a live stream: events ('result', 'stats', 'error', 'end'; the data is in
// event.detail) and an async iterator of results.
export class ResultStream extends EventTarget {
  #client;
  #unsubscribe;
  #buffer = [];
  #waiters = [];
  #iterating = false;
  #watchers = [];

  #held = [];

  constructor(client, id) {
    super();
    this.#client = client;
    this.id = id;
    this.stats = null;
    this.results = 0;
    this.error = null;
    this.closed = false;
    this.ended = new Promise((resolve) => {
      this.#unsubscribe = client.subscribe(id, (name, data) => {
        if (this.#held) this.#held.push([name, data, resolve]);
        else this.#event(name, data, resolve);
      });
    });
    // Events that arrive before the caller got this object (audio may start flowing while
    // connect() is still finishing) are held until the task after it was handed over, so
    // listeners added right after `await session.connect()` miss nothing.
    this.ready = new Promise((resolve) => setTimeout(() => {
      const held = this.#held;
      this.#held = null;
      for (const args of held) this.#event(...args);
      resolve();
    }, 0));
  }

  #event(name, data, resolveEnd) {
    if (name === 'result') {
      this.results++;
      this.stats = data.stats ?? this.stats;
    } else if (name === 'stats') {
      this.stats = data;
    } else if (name === 'error') {
      data = this.error = deserializeStreamError(data);
    } else if (name === 'end') {
      this.stats = data.stats;
    }
    this.dispatchEvent(new CustomEvent(name, { detail: data }));
    if (this.#iterating && (name === 'result' || name === 'error' || name === 'end')) this.#offer({ name, data });
    this.#checkWatchers();
    if (name === 'end' || name === 'error') {
      this.closed = true;
      if (name === 'end') resolveEnd(data);
      else resolveEnd({ stats: this.stats, words: [], error: data });
      this.#unsubscribe();
      this.#checkWatchers(true);
    }
  }

  #offer(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#buffer.push(item);
  }

  #checkWatchers(final = false) {
    const s = this.stats;
    this.#watchers = this.#watchers.filter(({ n, resolve, reject }) => {
      if (s && s.framesProcessed + s.dropped >= n) {
        resolve(s);
        return false;
      }
      if (final) {
        if (this.error) reject(this.error);
        else resolve(s);
        return false;
      }
      return true;
    });
  }

  // Resolves with the stats once `n` frames were processed or dropped (or the stream ended).
  whenProcessed(n) {
    return new Promise((resolve, reject) => {
      this.#watchers.push({ n, resolve, reject });
      this.#checkWatchers(this.closed);
    });
  }

  async *[Symbol.asyncIterator]() {
    this.#iterating = true;
    for (;;) {
      const item = this.#buffer.length ? this.#buffer.shift() : await new Promise((r) => this.#waiters.push(r));
      if (item.name === 'result') yield item.data;
      else if (item.name === 'error') throw item.data;
      else return;
    }
  }

  // Stops the stream; resolves with {stats, words} (the words still pending are flushed).
  async close() {
    if (!this.closed) {
      try {
        await this.#client.call(this.id, 'close');
      } catch (e) {
        if (e.code !== 'INVALID_STATE') throw e;  // already ended on the engine side
      }
    }
    return this.ended;
  }
}

function deserializeStreamError(data) {
  const e = new KyutaiError(data.message, data.code ?? 'INTERNAL');
  if (data.name && data.name !== 'KyutaiError') e.name = data.name;
  return e;
}
