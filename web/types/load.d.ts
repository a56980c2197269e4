// loadModel's options, its progress and load record, and the model cache (web/src/model-cache.js).

/** Bytes of a checkpoint: a URL (fetched by the engine's worker), bytes, a Blob, a Response or a stream. In Node also a file path. */
export type ByteSource =
  | string | URL | ArrayBuffer | ArrayBufferView | Blob | Response
  | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A config.json: its URL (or path in Node), its JSON text, or the parsed object. */
export type ConfigSource = string | URL | Blob | Response | ArrayBuffer | ArrayBufferView | Record<string, unknown>;

/** Weight format after loading: as stored ('auto'), or converted at load time (8-bit, 4-bit). */
export type WeightFormat = 'auto' | 'f32' | 'bf16' | 'q8' | 'q4';

/**
 * Where a load is: 'download' (bytes from the network, each tensor converted to the final
 * format as soon as its bytes are in), 'cache' (the converted weights read from the model
 * cache, no network), 'convert' (bytes from a buffer, Blob, stream or file), 'export' (the
 * converted weights being written to the cache), 'ready' (the model is loaded).
 */
export type LoadPhase = 'download' | 'cache' | 'convert' | 'export' | 'ready';

export interface LoadProgress {
  phase: LoadPhase;
  /** Bytes of the weights received (or, in 'export', written) so far; all shards together. */
  loaded: number;
  /** Size of the weights, once known (from the safetensors header or the source; for shards, once the last one starts). */
  total: number | undefined;
  /** Tensors loaded (or exported) so far. */
  tensors: number | undefined;
  /** Sharded checkpoints: the file being read (1-based) and how many there are. */
  file?: number;
  files?: number;
  /** 'ready': where the weights came from. */
  source?: LoadInfo['source'];
  /** Loads by name: the file being read (the weights stream with progress; the rest is read after). */
  fileName?: string;
  /** Loads by name: every file of the model, with its size when the server gave one. */
  modelFiles?: ModelFile[];
  /** Loads by name: bytes over every file of the model (total undefined when a size is unknown). */
  overall?: { loaded: number | undefined; total: number | undefined };
}

/** A file of a model loaded by name (KyutaiModel.files, LoadProgress.modelFiles). */
export interface ModelFile {
  role: 'weights' | 'mimi' | 'tokenizer';
  /** Its name in the repository (config.json's moshi_name, mimi_name, tokenizer_name). */
  file: string;
  /** Where it was read: a URL, or in Node a path. */
  url?: string;
  size: number | undefined;
}

/** How a model's weights were loaded (KyutaiModel.load). */
export interface LoadInfo {
  /** 'network': downloaded (and converted while streaming); 'cache': read from the model cache; 'local': bytes, a Blob, a stream or a file. */
  source: 'network' | 'cache' | 'local';
  url: string | null;
  format: WeightFormat;
  /** 64-bit FNV-1a (hex) of the downloaded checkpoint bytes, all shards in order (for a cache load: the hash recorded when it was downloaded). */
  contentHash: string;
  /** Bytes streamed into the engine (the cached file's size on a cache load). */
  bytes: number;
  files: number;
  /** Time of the streaming load (download or cache read, and conversion), ms. */
  loadMs: number;
  /** Time spent writing the cache entry, ms (0 when nothing was written). */
  exportMs: number;
  /** Whether the converted weights are in the cache now. */
  cached: boolean;
  /** Why the cache was not used or not written, if it was not (the load itself succeeded). */
  cacheError: string | null;
  /** WebAssembly heap figures (bytes). The heap never shrinks, so `sizeAfter` is also its peak size. */
  heap: {
    limit: number; maxBytes: number | null; sizeBefore: number; sizeAfter: number;
    inUseBefore: number; inUseAfter: number; peakInUse: number;
  };
}

/**
 * A cache entry (listCachedModels): an LM converted to `format`, or (kind 'mimi', format
 * 'mimi') a Mimi frame tokenizer's weights as downloaded, which carry no contentHash, files
 * or weightBytes.
 */
export interface CachedModel {
  key: string;
  url: string;
  format: WeightFormat | 'mimi';
  kind?: 'mimi';
  contentHash?: string;
  /** Size of the cached (converted) safetensors file. */
  bytes: number;
  /** Size of the checkpoint it was converted from. */
  sourceBytes: number;
  files?: number;
  weightBytes?: number;
  savedAt: string;
}

/** The checkpoint in several files, streamed in order into one model (e.g. Hugging Face shards). */
export interface ShardedWeights {
  shards: ByteSource[];
}

/**
 * Turns 24 kHz audio frames into the audio codes a model reads (and back). Kyutai's is the
 * Mimi codec (`{type: 'mimi', ...}`); a module or an object can provide another.
 */
export interface FrameTokenizer {
  readonly frameSize: number;
  readonly codebooks: number;
  /** One frame of `frameSize` samples -> `codebooks` codes (empty while a streaming codec warms up). Must not keep `frame`. */
  encode(frame: Float32Array): Int32Array;
  /** Codes -> `frameSize` samples (a new array). */
  decode?(codes: Int32Array): Float32Array;
  reset?(): void;
  dispose?(): void;
  readonly kind?: string;
}

export type FrameTokenizerSpec =
  /**
   * Kyutai's Mimi codec, run by the engine (engine.loadMimi), loaded once per model; each
   * session gets a stream of its own on those weights, with as many codebooks as its model
   * reads (at most Mimi's). `format` converts Mimi's linear weights at load ('q8', 'q4').
   */
  | { type: 'mimi'; config: ConfigSource; weights: ByteSource; format?: WeightFormat }
  /** A module URL whose default export (or `createFrameTokenizer`) makes a tokenizer inside the engine's thread. */
  | { module: string | URL; options?: unknown }
  /** A tokenizer object; only with `worker: false` (functions cannot cross into a worker). */
  | FrameTokenizer;

export interface LoadModelOptions {
  config: ConfigSource;
  /**
   * The safetensors file, streamed and converted tensor by tensor (never held whole). A URL
   * ending in `.index.json` (or, in Node, such a path) is a sharded checkpoint's index
   * (`model.safetensors.index.json`); `{shards}` lists the files yourself.
   */
  weights: ByteSource | ShardedWeights;
  /** Convert weights at load time: 'q8' (8-bit, llama.cpp's Q8_0: a scale per 32 weights) or 'q4' (4-bit) shrink memory; default 'auto' keeps the stored type. */
  format?: WeightFormat;
  /** Threads of the kernels (pthreads build only, i.e. cross-origin isolated pages). Default: one per core. */
  threads?: number;
  /**
   * Precision of the sessions' KV caches (WebAssembly backend). 'f32' (default) is exact;
   * 'bf16' halves the cache's memory and the bytes a frame reads once the attention window
   * is full, at bf16 rounding of keys and values (Kyutai's GPU precision).
   */
  kvCache?: 'f32' | 'bf16';
  /** Load weights holding NaN or infinite values (refused by default with INVALID_CHECKPOINT, naming the tensor). */
  allowNonFinite?: boolean;
  /** Aborts the load: it rejects with ABORTED and everything loaded so far is freed. */
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  /** Run the engine in a Web Worker (default in browsers) or in this thread (default and only choice in Node). */
  worker?: boolean;
  /** SentencePiece model of the text vocabulary (tokenizer_*.model); needs the engine's tokenizer. */
  tokenizer?: ByteSource;
  /**
   * How audio frames become codes: Kyutai's Mimi (pass the model's mimi config and weights).
   * Without one the model takes code frames only (pushFrame, pushCodes): audio calls are
   * refused with INVALID_STATE. `'band-energy'` is refused with INVALID_ARGUMENT.
   */
  frameTokenizer?: FrameTokenizerSpec;
  /**
   * One build's module (kyutai[-mt][-relaxed].mjs) to load instead of the automatic choice;
   * its .wasm is looked for next to it. The model then reports the build that really runs.
   */
  moduleUrl?: string | URL;
  /**
   * Where the package's dist/ files are served (a CDN, a custom base): the automatic choice
   * among the four builds then loads them from there. Bundlers need none of this.
   */
  assetBase?: string | URL;
  /**
   * Load the relaxed-SIMD build where the JavaScript engine supports relaxed SIMD (default
   * true; Chromium 114+, Node 22+). Same results, 4-bit weights run faster; false keeps the
   * plain SIMD128 build.
   */
  relaxedSimd?: boolean;
  /** Override where the package's worker script is loaded from (bundlers). */
  workerUrl?: string | URL;
  /**
   * Where the LM runs. 'auto' (default): WebGPU when the browser offers it, the model's
   * architecture is supported and a kernel self-test agrees with WebAssembly; otherwise
   * WebAssembly SIMD. 'webgpu': the same, but loadModel rejects (UNSUPPORTED) instead of
   * falling back. 'wasm': never WebGPU. `backendReason` says what happened.
   */
  backend?: BackendChoice;
  /**
   * The model cache (browsers, OPFS), for weights given by URL. true (default): a cached
   * conversion of (URL, format) loads from disk with no network; otherwise the download is
   * converted and then stored. 'reload': download again and replace the entry. false: neither.
   * A Mimi frame tokenizer's weights by URL follow the same option (stored as downloaded).
   */
  cache?: boolean | 'reload';
  /**
   * Refuse (LIMIT_EXCEEDED, before converting anything and with the download cancelled) a
   * model whose footprint in `format` exceeds this many bytes. Default: what the 4 GiB
   * WebAssembly heap can still take. null: no check.
   */
  maxBytes?: number | null;
}

/** Records of the models in the cache (OPFS; [] where there is none). Works from the page while models run in workers. */
export function listCachedModels(): Promise<CachedModel[]>;
/** Deletes the cached conversion of `url` to `format` (as given to loadModel; 'mimi' for Mimi's weights). Resolves true if there was one. */
export function deleteCachedModel(url: string | URL, format?: WeightFormat | 'mimi'): Promise<boolean>;
/** Deletes every cached model; resolves with how many there were. */
export function clearModelCache(): Promise<number>;
/** Whether this environment has the model cache (OPFS). */
export function modelCacheAvailable(): boolean;

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';
