// The engine (`kyutai-wasm/engine`): the WebAssembly module and thin wrappers over its
// classes. It runs wherever it is imported: inside the package's Web Worker in browsers, or
// in-process in Node. Every method is synchronous here; the public API (index.js) makes them
// asynchronous. The model's low-level API (forward, forwardAsr, createStepper) is in lm.js,
// typed in web/types/engine.d.ts.
import { KyutaiError, unwrap, loadError } from './errors.js';
import { readChunks, readAll } from './sources.js';
import { isShardList } from './sharded.js';
import { Tokenizer, MimiCodec } from './codec.js';
import { LmModel } from './lm.js';
import { withHeapBytes } from './engine-sessions.js';

export { Tokenizer, MimiCodec, MimiStream } from './codec.js';
export { LmModel, LmStepper } from './lm.js';
export { AsrSession, TtsSession, DuplexSession, Transcriber, DuplexPipeline, Generator, Speaker, withHeapBytes } from './engine-sessions.js';

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

// Every file of the four builds, each as a literal `new URL('...', import.meta.url)`: the form
// Vite, webpack 5, Rollup and esbuild recognise, so a bundled app ships all of them (with the
// names the bundler gives them) and the automatic choice among the builds keeps working.
const BUILD_FILES = {
  'kyutai.mjs': () => new URL('../../dist/kyutai.mjs', import.meta.url),
  'kyutai.wasm': () => new URL('../../dist/kyutai.wasm', import.meta.url),
  'kyutai-relaxed.mjs': () => new URL('../../dist/kyutai-relaxed.mjs', import.meta.url),
  'kyutai-relaxed.wasm': () => new URL('../../dist/kyutai-relaxed.wasm', import.meta.url),
  'kyutai-mt.mjs': () => new URL('../../dist/kyutai-mt.mjs', import.meta.url),
  'kyutai-mt.wasm': () => new URL('../../dist/kyutai-mt.wasm', import.meta.url),
  'kyutai-mt.worker.js': () => new URL('../../dist/kyutai-mt.worker.js', import.meta.url),
  'kyutai-mt-relaxed.mjs': () => new URL('../../dist/kyutai-mt-relaxed.mjs', import.meta.url),
  'kyutai-mt-relaxed.wasm': () => new URL('../../dist/kyutai-mt-relaxed.wasm', import.meta.url),
  'kyutai-mt-relaxed.worker.js': () => new URL('../../dist/kyutai-mt-relaxed.worker.js', import.meta.url),
};

export function buildName(threaded, relaxed) {
  return `kyutai${threaded ? '-mt' : ''}${relaxed ? '-relaxed' : ''}`;
}

// Where a build's file is: under `assetBase` (a CDN or a folder the app serves dist/ from)
// when given, else where the bundler (or the package's own layout) put it.
export function buildFileUrl(file, assetBase) {
  if (assetBase) return new URL(file, new URL(String(assetBase).replace(/\/?$/, '/'), globalThis.location?.href)).href;
  const known = BUILD_FILES[file];
  if (!known) throw new KyutaiError(`no engine file '${file}' (expected one of ${Object.keys(BUILD_FILES).join(', ')})`, 'INVALID_ARGUMENT');
  return known().href;
}

// Whether a module URL names a relaxed-SIMD build (kyutai[-mt]-relaxed.mjs): the module itself
// cannot say, unlike threads (its heap is then shared).
function namesRelaxedBuild(url) {
  return /-relaxed[-.]/.test(String(url).replace(/[?#].*$/, '').split('/').pop());
}

// Vite inlines small assets as data: URLs. A pthread worker started from one has an opaque
// origin and cannot import the engine module, so it gets a same-origin blob: URL instead.
function workerScriptUrl(url) {
  if (!url.startsWith('data:')) return url;
  const comma = url.indexOf(',');
  const body = url.slice(comma + 1);
  const text = url.slice(0, comma).endsWith(';base64') ? atob(body) : decodeURIComponent(body);
  return URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
}

async function importModule(url) {
  try {
    return await import(/* @vite-ignore */ /* webpackIgnore: true */ url);
  } catch (e) {
    throw loadError(`could not load the engine module ${url} (${e.message}): check that the file is served there, ` +
      'or point `assetBase` / `moduleUrl` at the folder holding the package\'s dist/ files', 'NOT_FOUND', e);
  }
}

// threads: > 1 (or undefined: automatic) takes the pthreads build where the page is
// cross-origin isolated; relaxedSimd: false keeps the plain SIMD128 build where relaxed SIMD
// is available (same results; the relaxed one runs 4-bit weights faster). assetBase: where
// the dist/ files are served (CDN, custom base). moduleUrl: one build's .mjs, used as is; the
// engine then reports the build that really runs (threads asked of the module itself).
export async function createEngine({ threads, moduleUrl, assetBase, locateFile, relaxedSimd } = {}) {
  const threaded = threads === undefined ? threadsAvailable() : threads > 1 && threadsAvailable();
  const relaxed = relaxedSimd !== false && relaxedSimdAvailable();
  const name = buildName(threaded, relaxed);
  const url = moduleUrl ? String(moduleUrl) : buildFileUrl(`${name}.mjs`, assetBase);
  const { default: factory } = await importModule(url);
  // The module asks for its .wasm (and pthread worker) by file name: answer with this
  // package's URLs, unless the module was given by URL (its files are then next to it) or
  // this is Node (the module reads them from its own folder on disk).
  const locate = locateFile ?? (moduleUrl || isNode ? undefined : (file) => workerScriptUrl(buildFileUrl(file, assetBase)));
  // mainScriptUrlOrBlob: the pthread workers import the module from there (a bundler renames
  // it, and the worker script may live elsewhere, e.g. at a blob: URL).
  const module = await factory(locate ? { locateFile: locate, mainScriptUrlOrBlob: url } : {});
  if (!moduleUrl) return new Engine(module, threaded, relaxed);
  const shared = typeof SharedArrayBuffer !== 'undefined' && module.HEAPU8?.buffer instanceof SharedArrayBuffer;
  return new Engine(module, shared, namesRelaxedBuild(url));
}

export class Engine {
  constructor(module, threaded, relaxedSimd = false) {
    this.module = module;
    this.threaded = threaded;
    this.relaxedSimd = relaxedSimd;
  }

  // The build running: kyutai[-mt][-relaxed].
  get build() {
    return buildName(this.threaded, this.relaxedSimd);
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
            buffer = M._malloc(capacity) >>> 0;  // past 2 GiB the i32 reads negative
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
  // The other options (format, threads, kvCache, allowNonFinite) go to the loader as given: it
  // checks them.
  async loadLm(config, weights, { onProgress, signal, ...loaderOptions } = {}) {
    const M = this.module;
    const configText = typeof config === 'string' ? config : JSON.stringify(config);
    const files = isShardList(weights) ? weights.shards : [weights];
    if (!files.length) throw new KyutaiError('weights: the list of shards is empty', 'INVALID_ARGUMENT');
    const limit = loaderOptions.maxBytes === undefined ? this.heapAvailable() : loaderOptions.maxBytes;
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
      const checkedLimit = limit !== null && Number.isFinite(limit) && limit > 0 ? limit : undefined;
      unwrap(loader.init(configText, { ...loaderOptions, maxBytes: checkedLimit }));
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
  async loadMimi(config, weights, { format, threads, onProgress, signal } = {}) {
    const M = this.module;
    const configText = typeof config === 'string' ? config : JSON.stringify(config);
    const loader = new M.MimiLoader();
    const model = new M.MimiModel();
    try {
      unwrap(loader.init(configText, { format: format ?? 'auto', threads: threads ?? 1 }));
      await this.#stream(weights, (ptr, size) => loader.push(ptr, size), onProgress, signal);
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
