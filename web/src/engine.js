// The engine (`kyutai-wasm/engine`): the WebAssembly module and thin wrappers over its
// classes. It runs wherever it is imported: inside the package's Web Worker in browsers, or
// in-process in Node. Every method is synchronous here; the public API (index.js) makes them
// asynchronous. The model's low-level API (forward, forwardAsr, createStepper) is in lm.js,
// typed in web/types/engine.d.ts.
import { KyutaiError, unwrap } from './errors.js';
import { readChunks, readAll } from './sources.js';
import { isShardList } from './sharded.js';
import { Disposable } from './disposable.js';
import { Tokenizer, MimiCodec } from './codec.js';
import { LmModel } from './lm.js';

export { Tokenizer, MimiCodec, MimiStream } from './codec.js';
export { LmModel, LmStepper } from './lm.js';

const isNode = typeof process === 'object' && !!process.versions?.node;

// Picks the pthreads build when the page is cross-origin isolated (SharedArrayBuffer).
export function threadsAvailable() {
  if (isNode) return false;
  return typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated === true;
}

// A function returning i16x8.relaxed_dot_i8x16_i7x16_s of two zero vectors: engines that accept
// it (Chromium 114+, Node 22+; Node 20 behind --experimental-wasm-relaxed-simd) run the
// relaxed-SIMD build, whose 4-bit kernel multiplies sixteen weights per instruction.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function
  0x0a, 0x2b, 0x01, 0x29, 0x00, // code: one body of 41 bytes, no locals
  0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
  0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
  0xfd, 0x92, 0x02, 0x0b, // i16x8.relaxed_dot_i8x16_i7x16_s, end
]);

export function relaxedSimdAvailable() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

// The module for a build: kyutai[-mt][-relaxed].mjs next to this package's dist/.
function moduleFile(threaded, relaxed) {
  return `../../dist/kyutai${threaded ? '-mt' : ''}${relaxed ? '-relaxed' : ''}.mjs`;
}

// relaxedSimd: false keeps the plain SIMD128 build where relaxed SIMD is available (both give
// the same results; the relaxed one runs 4-bit weights faster).
export async function createEngine({ threads, moduleUrl, locateFile, relaxedSimd } = {}) {
  const useThreads = threads === undefined ? threadsAvailable() : threads > 1 && threadsAvailable();
  const useRelaxed = moduleUrl ? /-relaxed\.mjs(\?|$)/.test(moduleUrl) : relaxedSimd !== false && relaxedSimdAvailable();
  const url = moduleUrl ?? new URL(moduleFile(useThreads, useRelaxed), import.meta.url).href;
  const { default: factory } = await import(/* @vite-ignore */ url);
  const module = await factory(locateFile ? { locateFile } : {});
  return new Engine(module, useThreads, useRelaxed);
}

export class Engine {
  constructor(module, threaded, relaxedSimd = false) {
    this.module = module;
    this.threaded = threaded;
    this.relaxedSimd = relaxedSimd;
  }

  // "wasm-simd-threads" for the pthreads build, "wasm-simd" otherwise.
  get backend() {
    return this.threaded ? 'wasm-simd-threads' : 'wasm-simd';
  }

  // Bytes currently used by the WebAssembly heap (grows, never shrinks).
  heapBytes() {
    return this.module.HEAPU8.length;
  }

  // Bytes of the heap malloc has handed out and not taken back (returns to its baseline
  // once everything allocated is freed; for leak checks).
  heapInUse() {
    // mallinfo's counters are 32-bit ints: past 2 GiB they read negative. The heap is at most
    // 4 GiB, so the count modulo 2^32 is exact.
    const n = this.module.heapInUse();
    return n < 0 ? n + 2 ** 32 : n;
  }

  // The most the heap can grow to: a 32-bit WebAssembly memory (the module is linked with
  // MAXIMUM_MEMORY=4GB).
  heapLimit() {
    return 2 ** 32;
  }

  // What the heap can still take: its limit minus what malloc has handed out. loadLm passes
  // this as the loader's maxBytes, so a model that cannot fit is refused after its header.
  heapAvailable() {
    return Math.max(0, this.heapLimit() - this.heapInUse());
  }

  // Feeds bytes from any source (ArrayBuffer, typed array, Blob, Response, ReadableStream,
  // async iterable of chunks) into `push(ptr, size)`, one bounded heap buffer at a time.
  async #stream(source, push, onProgress, signal) {
    const M = this.module;
    let buffer = 0;
    let capacity = 0;
    try {
      for await (const chunk of readChunks(source, { signal })) {
        for (let offset = 0; offset < chunk.length; offset += 1 << 22) {
          const part = chunk.subarray(offset, offset + (1 << 22));
          if (part.length > capacity) {
            if (buffer) M._free(buffer);
            capacity = part.length;
            buffer = M._malloc(capacity);
            if (!buffer) throw new KyutaiError('out of memory allocating a load buffer', 'OUT_OF_MEMORY');
          }
          M.HEAPU8.set(part, buffer);
          const progress = unwrap(push(buffer, part.length));
          onProgress?.(progress);
        }
      }
    } finally {
      if (buffer) M._free(buffer);
    }
  }

  // config: JSON text or object; weights: a safetensors source, or `{shards: [source, ...]}`
  // for a checkpoint split in several files (streamed in order into one loader). Each
  // tensor is converted to `format` as soon as its bytes are in, so no copy of the file is
  // held: the heap peaks at the final model plus the largest tensor and one chunk.
  // maxBytes (default: heapAvailable()) is checked against the model's footprint as soon as
  // the first header is read; a model that cannot fit is refused with LIMIT_EXCEEDED before
  // any tensor is converted, and its download is cancelled. onProgress gets
  // {bytes, tensors, headerReady, totalBytes, contentHash, file, files, heapInUse, peakInUse}.
  // Returns an LmModel; `model.loadStats` has the heap figures and the content hash.
  async loadLm(config, weights, { format, threads, kvCache, allowNonFinite, onProgress, maxBytes, signal } = {}) {
    const M = this.module;
    const configText = typeof config === 'string' ? config : JSON.stringify(config);
    const files = isShardList(weights) ? weights.shards : [weights];
    if (!files.length) throw new KyutaiError('weights: the list of shards is empty', 'INVALID_ARGUMENT');
    const limit = maxBytes === undefined ? this.heapAvailable() : maxBytes;
    const stats = {
      heapBytesBefore: this.heapBytes(),
      heapInUseBefore: this.heapInUse(),
      peakInUse: 0,
      maxBytes: limit ?? null,
      contentHash: null,
      bytes: 0,
      files: files.length,
    };
    stats.peakInUse = stats.heapInUseBefore;
    const loader = new M.LmLoader();
    const model = new M.LmModel();
    try {
      const options = { format: format ?? 'auto', threads: threads ?? 1 };
      if (kvCache !== undefined && kvCache !== null) options.kvCache = kvCache;
      if (allowNonFinite !== undefined) options.allowNonFinite = allowNonFinite;
      if (limit !== null && Number.isFinite(limit) && limit > 0) options.maxBytes = limit;
      unwrap(loader.init(configText, options));
      let tensors = -1;
      for (let file = 0; file < files.length; file++) {
        if (file > 0) unwrap(loader.beginFile());
        const fileStart = stats.bytes;
        await this.#stream(files[file], (ptr, size) => loader.push(ptr, size), (p) => {
          // The heap in use is sampled whenever a tensor was converted (mallinfo walks the
          // heap, so not at every chunk).
          if (p.tensors !== tensors) {
            tensors = p.tensors;
            stats.peakInUse = Math.max(stats.peakInUse, this.heapInUse());
          }
          stats.contentHash = p.contentHash;
          stats.bytes = p.bytes;
          // The loader's totalBytes is the size of the file being read; the whole checkpoint's
          // size is known once the last file's header is in.
          const fileTotal = p.totalBytes;
          const totalBytes = fileTotal !== undefined && file === files.length - 1 ? fileStart + fileTotal : undefined;
          onProgress?.({ ...p, totalBytes, fileTotal, file: file + 1, files: files.length, heapInUse: stats.peakInUse });
        }, signal);
      }
      unwrap(model.load(loader));
    } catch (e) {
      model.delete();  // a failed load leaves no half-made model behind
      throw e;
    } finally {
      loader.delete();
    }
    const lm = new LmModel(this, model);
    stats.heapBytesAfter = this.heapBytes();
    stats.heapInUseAfter = this.heapInUse();
    stats.peakInUse = Math.max(stats.peakInUse, stats.heapInUseAfter);
    lm.loadStats = stats;
    return lm;
  }

  // Kyutai's Mimi codec: config (JSON text or object, Kyutai's `_mimi_config` form) and a
  // safetensors source streamed onto the heap chunk by chunk as for loadLm. Returns a
  // MimiCodec: whole clips (encode/decode), a default stream (encodeStep/decodeStep/reset),
  // and createStream(codebooks) for more streams sharing the same weights.
  async loadMimi(config, weights, { format, threads, onProgress } = {}) {
    const M = this.module;
    const configText = typeof config === 'string' ? config : JSON.stringify(config);
    const loader = new M.MimiLoader();
    const model = new M.MimiModel();
    try {
      unwrap(loader.init(configText, { format: format ?? 'auto', threads: threads ?? 1 }));
      await this.#stream(weights, (ptr, size) => loader.push(ptr, size), onProgress);
      unwrap(model.load(loader));
    } catch (e) {
      model.delete();  // a failed load leaves no half-made model behind
      throw e;
    } finally {
      loader.delete();
    }
    return new MimiCodec(this, model);
  }

  // A SentencePiece `.model` (Kyutai's text tokenizer) from any byte source.
  async loadTokenizer(source) {
    const bytes = await readAll(source);
    const handle = new this.module.Tokenizer();
    try {
      const vocabSize = unwrap(withHeapBytes(this.module, bytes, (ptr, size) => handle.load(ptr, size)));
      return new Tokenizer(handle, vocabSize);
    } catch (e) {
      handle.delete();
      throw e;
    }
  }
}

// Copies bytes onto the WebAssembly heap for the duration of `use(ptr, size)`.
function withHeapBytes(module, bytes, use) {
  const ptr = module._malloc(Math.max(1, bytes.length));
  if (!ptr) throw new KyutaiError('out of memory copying input bytes', 'OUT_OF_MEMORY');
  try {
    module.HEAPU8.set(bytes, ptr);
    return use(ptr, bytes.length);
  } finally {
    module._free(ptr);
  }
}

class Session extends Disposable {
  constructor(model, handle) {
    super(handle);
    this.model = model;
  }
  reset() {
    unwrap(this.handle.reset());
  }
  dispose() {
    this.model.sessions.delete(this);
    super.dispose();
  }
}

export class AsrSession extends Session {
  // codes: the n_q audio codes of one frame -> {step, textToken, isPadding, vad}
  pushFrame(codes) {
    return unwrap(this.handle.pushFrame(codes));
  }
}

export class TtsSession extends Session {
  // One text token (or -1) per frame -> {step, textToken, audio: Int32Array | null}
  pushText(token) {
    return unwrap(this.handle.pushText(token));
  }
}

export class DuplexSession extends Session {
  pushFrame(codes) {
    return unwrap(this.handle.pushFrame(codes));
  }
}

// Events: {type: 'word', tokens, time (start)}, {type: 'endWord', time (stop)},
// {type: 'vad', time, pause: Float32Array}, {type: 'endOfTurn', time, probability}; times in
// seconds of the input audio, `step` the ASR step that produced the event.
export class Transcriber extends Session {
  pushAudio(samples) {
    return unwrap(this.handle.pushAudio(samples));
  }
  pushCodes(codes) {
    return unwrap(this.handle.pushCodes(codes));
  }
  // Feeds the model's delay + 1 s of silence and closes the last word.
  flush() {
    return unwrap(this.handle.flush());
  }
  info() {
    return unwrap(this.handle.info());
  }
}

export class Generator extends Session {
  step(userCodes) {
    return unwrap(this.handle.step(userCodes));
  }
  reset() {
    throw new KyutaiError('create a new generator to restart', 'UNSUPPORTED');
  }
}
