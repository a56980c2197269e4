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
// Only the methods web/src/protocol.js lists for a receiver's concept (its class's static
// `protocol`) are callable. Typed arrays in results are
// fresh copies, so their buffers are transferred (no copy) when a worker posts them back.
import { createEngine } from '../engine.js';
import { KyutaiError, serializeError } from '../errors.js';
import { readAll, abortedError } from '../sources.js';
import { isRemoteMethod, checkArgs, pickOptions } from '../protocol.js';
import { selectBackend, BACKENDS } from '../webgpu/backend.js';
import { loadLmWithCache } from '../model-cache.js';
import { now, collectTransfer, needEngineMethod } from './common.js';
import { ModelServant, FrameTokenizerSource } from './model.js';

export { collectTransfer };

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
  static protocol = 'host';

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
      if (!isRemoteMethod(receiver.constructor.protocol, method)) {
        throw new KyutaiError(`${receiver.constructor.name} has no remote method '${method}'`, 'INVALID_ARGUMENT');
      }
      checkArgs(receiver.constructor.protocol, method, args, receiver);
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
  async init(ctx, options = {}) {
    if (!this.#engine) this.#engineOptions = pickOptions('engine', options);
    return this.describe(ctx);
  }

  async describe() {
    const engine = await this.engine;
    return {
      backend: engine.backend,
      build: engine.build,
      threaded: engine.threaded,
      relaxedSimd: engine.relaxedSimd,
      hardwareConcurrency: globalThis.navigator?.hardwareConcurrency ?? 1,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      heapBytes: engine.heapBytes(),
      textTokenizer: typeof engine.loadTokenizer === 'function',
      mimi: typeof engine.loadMimi === 'function',
    };
  }

  // `abort`: a MessagePort on which the caller's AbortSignal posts once (loadModel({signal})):
  // the load stops with ABORTED and everything it made so far is freed.
  async loadModel(ctx, options = {}) {
    const abort = abortSignalOf(options.abort);
    try {
      return await this.#loadModel(ctx, options, abort.signal);
    } finally {
      abort.close();
    }
  }

  // options: the files (config text, weights, tokenizer, frameTokenizer), weightsSize, and the
  // LOAD_OPTIONS groups `loader` and `host` (protocol.js).
  async #loadModel(ctx, options, signal) {
    const { config, weights, tokenizer = null, frameTokenizer, weightsSize, backend = 'auto', cache = true } = options;
    const engine = await this.engine;
    // Fail before the (long) weight download when the engine lacks a part asked for.
    const hasTokenizer = tokenizer !== null && tokenizer !== undefined;
    if (hasTokenizer) needEngineMethod(engine, 'loadTokenizer', 'the SentencePiece text tokenizer');
    if (frameTokenizer?.type === 'mimi') needEngineMethod(engine, 'loadMimi', 'the Mimi codec');
    if (!BACKENDS.includes(backend ?? 'auto')) {
      throw new KyutaiError(`backend: expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`, 'INVALID_ARGUMENT');
    }
    const loader = pickOptions('loader', options);
    loader.threads = lmThreads(engine, loader.threads);
    // Streams the weights (or their cached conversion, web/src/model-cache.js) into the engine.
    const { lm, info: load } = await loadLmWithCache(engine, config, weights, {
      loader, cache, signal, onProgress: progressReporter(ctx.progress, weightsSize),
    });
    let text = null;
    let frames;
    let choice = null;
    try {
      // WebGPU or WebAssembly (web/src/webgpu/backend.js); the LM stays loaded either way.
      choice = await selectBackend({ engine, lm, configText: config, format: loader.format, backend: backend ?? 'auto' });
      if (hasTokenizer) text = await engine.loadTokenizer(await readAll(tokenizer, { signal, what: 'tokenizer' }));
      frames = await FrameTokenizerSource.create(engine, frameTokenizer, lm.config, codecThreads(engine, loader.threads), { signal, cache });
      if (signal?.aborted) throw abortedError('loadModel');
    } catch (e) {
      frames?.dispose?.();
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

// The host side of loadModel's AbortSignal: a port that receives one message on abort.
function abortSignalOf(port) {
  if (!port) return { signal: null, close() {} };
  const controller = new AbortController();
  port.onmessage = () => controller.abort(new Error('the caller aborted'));
  port.start?.();
  return { signal: controller.signal, close: () => port.close() };
}

function poolSize() {
  return Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1);
}

// Threads the LM uses: by default one per core in the pthreads build (the pthread pool holds
// navigator.hardwareConcurrency workers; asking for more than the pool could wait forever
// for a worker that only starts once this thread yields), one otherwise.
function lmThreads(engine, threads) {
  if (threads === undefined || threads === null) return engine.threaded ? poolSize() : 1;
  return engine.threaded ? Math.max(1, Math.min(threads, poolSize())) : threads;
}

// Threads of the Mimi codec next to an LM on `lmThreads`: each has its own kernel pool, so
// together they must fit the pthread pool (the LM holds lmThreads - 1 workers of it); the
// codec takes what is left, up to lmThreads. They never run at the same time (one engine
// thread steps both), so the two pools do not compete for cores.
function codecThreads(engine, lmThreads) {
  if (!engine.threaded) return 1;
  return Math.max(1, Math.min(lmThreads, poolSize() - (lmThreads - 1) + 1));
}
