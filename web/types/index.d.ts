// Type declarations of kyutai-wasm (hand-written; the sources are plain ES modules in web/src/).

// Browser classes where the DOM lib is loaded; in a Node project without it they are `never`
// (those members are browser-only), so these declarations compile in both.
type DomClass<K extends string> = typeof globalThis extends { [P in K]: { prototype: infer T } } ? T : never;
type DomAudioBuffer = DomClass<'AudioBuffer'>;
type DomBaseAudioContext = DomClass<'BaseAudioContext'>;
type DomAudioWorkletNode = DomClass<'AudioWorkletNode'>;
type DomAudioNode = DomClass<'AudioNode'>;
type DomMediaStream = DomClass<'MediaStream'>;
type DomMediaTrackConstraints = DomClass<'MediaStreamTrack'> extends { applyConstraints(constraints?: infer C): unknown } ? C : never;
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

/** Samples per second of every audio frame: 24 kHz. */
export const SAMPLE_RATE: 24000;
/** Samples per frame: 1920 (80 ms). */
export const FRAME_SIZE: 1920;
/** Frames per second: 12.5. */
export const FRAME_RATE: number;

/** Stable error codes of the engine. */
export type KyutaiErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_CHECKPOINT' | 'INVALID_CONFIG' | 'LIMIT_EXCEEDED'
  | 'UNSUPPORTED' | 'INVALID_STATE' | 'OUT_OF_MEMORY' | 'INTERNAL'
  /** At load: a file, URL or engine module that is not there (HTTP 404, no such path). */
  | 'NOT_FOUND'
  /** At load: a request that failed (unreachable server, CORS, an HTTP error other than 404), or a source that failed mid-read. */
  | 'NETWORK'
  /** loadModel's `signal` was aborted. */
  | 'ABORTED';

/** Every error of the engine, also when it crossed from the worker: the engine's message and a stable code. */
export class KyutaiError extends Error {
  constructor(message: string, code?: KyutaiErrorCode);
  readonly name: 'KyutaiError';
  readonly code: KyutaiErrorCode;
}

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

/** A cache entry (listCachedModels). */
export interface CachedModel {
  key: string;
  url: string;
  format: WeightFormat;
  contentHash: string;
  /** Size of the cached (converted) safetensors file. */
  bytes: number;
  /** Size of the checkpoint it was converted from. */
  sourceBytes: number;
  files: number;
  weightBytes: number;
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
  /** Convert weights at load time: 'q8' (8-bit) or 'q4' (4-bit) shrink memory; default 'auto' keeps the stored type. */
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
/** Deletes the cached conversion of `url` to `format` (as given to loadModel). Resolves true if there was one. */
export function deleteCachedModel(url: string | URL, format?: WeightFormat): Promise<boolean>;
/** Deletes every cached model; resolves with how many there were. */
export function clearModelCache(): Promise<number>;
/** Whether this environment has the model cache (OPFS). */
export function modelCacheAvailable(): boolean;

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';

/** The model's configuration as the engine parsed it (Kyutai's config.json, camel-cased). */
export interface ModelConfig {
  dim: number;
  textCard: number;
  textCardOut: number;
  /** Audio codebooks the model reads per frame. */
  nQ: number;
  /** Audio codebooks the model generates per frame (0 for speech-to-text). */
  depQ: number;
  card: number;
  numLayers: number;
  context: number;
  maxDelay: number;
  delays: number[];
  extraHeads: number;
  extraHeadsDim: number;
  textPaddingId: number;
  textEndPaddingId: number;
  asrDelayInTokens: number;
  audioDelaySeconds: number;
  audioSilencePrefixSeconds: number;
  modelType: string;
  tokenizerName: string;
}

export interface FrameTokenizerInfo {
  kind: string;
  frameSize: number;
  /** Codes per frame the tokenizer gives (Mimi: all its codebooks; a session uses the first nQ). */
  codebooks: number;
  canDecode: boolean;
  /** Mimi: codes are 0 .. cardinality - 1. */
  cardinality?: number;
  /** Mimi: threads of its kernels (it shares the pthread pool with the model). */
  threads?: number;
}

export interface EngineInfo {
  backend: Backend;
  /** The build running: 'kyutai', 'kyutai-relaxed', 'kyutai-mt' or 'kyutai-mt-relaxed'. */
  build: 'kyutai' | 'kyutai-relaxed' | 'kyutai-mt' | 'kyutai-mt-relaxed';
  threaded: boolean;
  /** Whether the relaxed-SIMD build runs (see LoadOptions.relaxedSimd). */
  relaxedSimd: boolean;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
  heapBytes: number;
  /** Whether this build has the SentencePiece tokenizer (engine.loadTokenizer). */
  textTokenizer: boolean;
  /** Whether this build has the Mimi codec (engine.loadMimi). */
  mimi: boolean;
}

export type Backend = 'webgpu' | 'wasm-simd' | 'wasm-simd-threads';

export interface BackendStatus {
  backend: Backend;
  backendReason: string | null;
}

export function loadModel(options: LoadModelOptions): Promise<KyutaiModel>;
/**
 * A model by name ('kyutai/stt-1b-en_fr'): config.json, the weights (moshi_name, default
 * model.safetensors), Mimi (mimi_name, with Kyutai's Mimi configuration) and the tokenizer
 * (tokenizer_name) are found through the `hub` URL template. Every other option is loadModel's.
 */
export function loadModel(name: string, options?: LoadByNameOptions): Promise<KyutaiModel>;

export interface LoadByNameOptions extends Omit<LoadModelOptions, 'config' | 'weights' | 'tokenizer' | 'frameTokenizer'> {
  /**
   * URL template with {repo}, {revision} and {file} (default DEFAULT_HUB, Hugging Face's
   * resolve layout); a mirror or a folder laid out like the hub; in Node also a path template.
   */
  hub?: string;
  /** Branch, tag or commit for {revision} (default 'main'). */
  revision?: string;
  /** Options of the Mimi codec found by name (its format, say). */
  frameTokenizer?: { format?: WeightFormat };
}

/** 'https://huggingface.co/{repo}/resolve/{revision}/{file}' */
export const DEFAULT_HUB: string;
/** Kyutai's Mimi configuration (`_mimi_config` of its loaders), as loaded for a model by name. */
export const KYUTAI_MIMI_CONFIG: Readonly<Record<string, unknown>>;
/** True for "owner/name". */
export function isModelName(name: string): boolean;
/** Where `file` of `repo` is under the template (a URL, or in Node a path for a path template). */
export function hubFileUrl(repo: string, file: string, options?: { hub?: string; revision?: string }): string;
/** A model name -> its files, as loadModel(name) reads them. */
export function resolveModel(name: string, options?: { hub?: string; revision?: string }): Promise<{
  config: Record<string, unknown>;
  weights: string;
  tokenizer: string | undefined;
  frameTokenizer: { type: 'mimi'; config: Record<string, unknown>; weights: string } | undefined;
  files: ModelFile[];
}>;

export class KyutaiModel {
  readonly config: ModelConfig;
  /** Where new sessions run; updated by backendStatus() (a lost GPU device moves sessions to WebAssembly). */
  readonly backend: Backend;
  /** Why this backend: the adapter, or why WebGPU was not used (no adapter, unsupported option, self-test, lost device...). */
  readonly backendReason: string | null;
  readonly threads: number;
  /** Precision of the sessions' KV caches (loadModel's kvCache). */
  readonly kvCache: 'f32' | 'bf16';
  readonly weightBytes: number;
  /** Weight bytes one streaming frame reads (every matrix): divided by the memory bandwidth, the floor of a frame's time. */
  readonly bytesPerFrame: number;
  /** How the weights were loaded: from the network or the cache, the content hash, times, heap figures. */
  readonly load: LoadInfo;
  readonly frameTokenizer: FrameTokenizerInfo | null;
  readonly textTokenizer: TextTokenizer | null;
  readonly engine: EngineInfo;
  /** Loaded by name: its files (role, name, where, size). */
  readonly files?: ModelFile[];
  readonly inWorker: boolean;
  readonly disposed: boolean;
  createAsrSession(options?: AsrOptions): Promise<AsrSession>;
  createTtsSession(options?: GenerationOptions): Promise<TtsSession>;
  createDuplexSession(options?: GenerationOptions): Promise<DuplexSession>;
  /** Speech-to-text as Kyutai ships it: words with start and end, pause probabilities, end of turn. */
  createTranscriber(options?: TranscriberOptions): Promise<Transcriber>;
  /** A whole clip -> its words and ends of turn (a transcriber made for it, flushed, disposed). */
  transcribe(audio: Float32Array | DomAudioBuffer, options?: TranscribeOptions): Promise<Transcript>;
  /** The backend new sessions get now (also updates `backend` and `backendReason`). */
  backendStatus(): Promise<BackendStatus>;
  /** Testing aid: destroys the WebGPU device; running sessions continue on WebAssembly from the same state. */
  simulateDeviceLoss(): Promise<boolean>;
  /** Frees the model, its sessions and streams, and its worker. */
  dispose(): Promise<void>;
}

/** The model's SentencePiece tokenizer, run by the engine. */
export class TextTokenizer {
  readonly vocabSize: number;
  encode(text: string): Promise<Int32Array>;
  decode(ids: Int32Array | number[]): Promise<string>;
  /** One word's pieces as text, without the word-boundary space. */
  decodeWord(ids: Int32Array | number[]): Promise<string>;
  idToPiece(id: number): Promise<string>;
}

export interface AsrOptions {
  /** 0: argmax (Kyutai's default for speech-to-text); a finite number 0..1000. */
  temperature?: number;
  seed?: number;
  /** WebGPU models: keep a WebAssembly copy of the KV cache so the session survives a lost device (default true). */
  mirror?: boolean;
}

export interface GenerationOptions {
  sampling?: boolean;
  temperature?: number;
  textTemperature?: number;
  topK?: number;
  textTopK?: number;
  seed?: number;
  /** WebGPU models: keep a WebAssembly copy of the KV cache so the session survives a lost device (default true). */
  mirror?: boolean;
}

/** A word of recognised text. `text` is null when the model has no text tokenizer. */
export interface Word {
  tokens: Int32Array;
  text: string | null;
  /** Seconds from the start of the audio. */
  start: number;
  /** Seconds; null until the end-of-padding token that closes it arrived. */
  end: number | null;
}

export interface StepTiming {
  /** Time the frame waited in the engine's queue. */
  queuedMs: number;
  /** Frame tokenizer + model step (+ decoding). */
  computeMs: number;
  /** Arrival in the engine thread -> result. */
  latencyMs: number;
}

export interface StreamStats {
  framesReceived: number;
  framesProcessed: number;
  /** Frames dropped because inference fell behind (the oldest go first). */
  dropped: number;
  /** Frames waiting for inference (in the final stats of a closed stream: received but never processed). */
  queued: number;
  computeMs: number;
  latencyMs: number;
  meanComputeMs: number;
  /** Mean compute time / 80 ms of audio: below 1 is faster than real time. */
  rtf: number;
}

interface StepCommon {
  /** Steps taken, this one included. */
  step: number;
  textToken: number;
  /** Words that became final at this step. */
  words: Word[];
  /** A word given at an earlier step whose end time this step fixed. */
  ended: Word | null;
  /** Present on results of audio input: the frame's codes from the frame tokenizer. */
  codes?: Int32Array;
  /** Present on stream results. */
  seq?: number;
  /** On WebGPU models: where this frame ran ('webgpu', or WebAssembly after a lost device). */
  backend?: Backend;
  timing?: StepTiming;
  stats?: StreamStats;
}

export interface AsrStep extends StepCommon {
  isPadding: boolean;
  /** Softmax of each semantic-VAD head, [heads * headDim]. */
  vad: Float32Array;
}

export interface GeneratedStep extends StepCommon {
  /** The model's audio codes of the frame completed at this step (depQ values), or null while delays fill. */
  audio: Int32Array | null;
  frameText: number | null;
  /** `audio` decoded by the frame tokenizer, when it decodes (null when sent to a playback node). */
  pcm: Float32Array | null;
}

declare class Session {
  readonly kind: 'asr' | 'tts' | 'duplex';
  readonly disposed: boolean;
  reset(): Promise<void>;
  /** Words still being spelled when the input ends. */
  flush(): Promise<Word[]>;
  dispose(): Promise<void>;
}

export interface ConnectOptions {
  /** Frames waiting for inference before the oldest is dropped (reported in stats). Default 25 (2 s). */
  maxQueuedFrames?: number;
  /** Send decoded audio of generated frames straight to this playback node. */
  playback?: AudioPlayback | null;
}

export class AsrSession extends Session {
  readonly kind: 'asr';
  /** The model's nQ codes of one frame. */
  pushFrame(codes: Int32Array | number[]): Promise<AsrStep>;
  /** One frame of samples, through the frame tokenizer; null while a codec warms up. */
  pushAudio(samples: Float32Array): Promise<AsrStep | null>;
  /** Live audio from a capture node (straight from its worklet to the engine) or a MessagePort of frames. */
  connect(source: AudioCapture | MessagePort, options?: ConnectOptions): Promise<ResultStream<AsrStep>>;
}

export class DuplexSession extends Session {
  readonly kind: 'duplex';
  /** The user's nQ - depQ codes of one frame. */
  pushFrame(codes: Int32Array | number[]): Promise<GeneratedStep>;
  pushAudio(samples: Float32Array): Promise<GeneratedStep | null>;
  connect(source: AudioCapture | MessagePort, options?: ConnectOptions): Promise<ResultStream<GeneratedStep>>;
}

export interface SpeakOptions {
  /** Frames of padding after the text. */
  tailFrames?: number;
  playback?: AudioPlayback | null;
}

export class TtsSession extends Session {
  readonly kind: 'tts';
  /** One frame with `token` on the text stream (-1: none). */
  pushText(token: number): Promise<GeneratedStep>;
  /** Text (needs the text tokenizer) or token ids, one forced per frame. */
  speak(input: string | Int32Array | number[], options?: SpeakOptions): Promise<ResultStream<GeneratedStep>>;
}

export interface StreamEnd {
  stats: StreamStats;
  /** Words flushed at the end. */
  words: Word[];
  error?: KyutaiError;
}

export interface ResultStreamEventMap<T> {
  result: CustomEvent<T>;
  stats: CustomEvent<StreamStats>;
  error: CustomEvent<KyutaiError>;
  end: CustomEvent<StreamEnd>;
}

/** Results of a live stream, as events and as an async iterator. */
export class ResultStream<T> extends EventTarget implements AsyncIterable<T> {
  readonly id: number;
  readonly stats: StreamStats | null;
  readonly results: number;
  readonly error: KyutaiError | null;
  readonly closed: boolean;
  /** Resolves when the stream ends (closed, input finished, or failed). */
  readonly ended: Promise<StreamEnd>;
  addEventListener<K extends keyof ResultStreamEventMap<T>>(type: K, listener: (event: ResultStreamEventMap<T>[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** Resolves once `n` frames were processed or dropped (or the stream ended). */
  whenProcessed(n: number): Promise<StreamStats>;
  close(): Promise<StreamEnd>;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

// ---- Web Audio ----

export interface CaptureStats {
  framesPosted: number;
  samplesIn: number;
  sampleRate: number;
  connected: boolean;
}

export interface CaptureFrame {
  seq: number;
  samples: Float32Array;
}

/** Any audio source -> 1920-sample frames at 24 kHz, cut on the audio thread by an AudioWorklet. */
export class AudioCapture extends EventTarget {
  readonly context: DomBaseAudioContext;
  readonly node: DomAudioWorkletNode;
  addEventListener(type: 'frame', listener: (event: CustomEvent<CaptureFrame>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'stats', listener: (event: CustomEvent<CaptureStats>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** Frames go to `port` from now on (session.connect does this). */
  attach(port: MessagePort): Promise<void>;
  /** Give a frame from a 'frame' event back for reuse. */
  recycle(samples: Float32Array): void;
  stats(): Promise<CaptureStats>;
  /** Stops capturing (and the microphone it opened); resolves with the final stats. */
  dispose(): Promise<CaptureStats>;
}

export interface CaptureOptions {
  /** 'microphone' (default), a MediaStream, or an AudioNode. */
  source?: 'microphone' | DomMediaStream | DomAudioNode;
  frameSize?: number;
  sampleRate?: number;
}

export function createCapture(context: DomBaseAudioContext, options?: CaptureOptions): Promise<AudioCapture>;
/** getUserMedia with echo cancellation, noise suppression and gain control off. */
export function openMicrophone(constraints?: DomMediaTrackConstraints): Promise<DomMediaStream>;

export interface PlaybackStats {
  received: number;
  framesPlayed: number;
  samplesPlayed: number;
  underruns: number;
  silentSamples: number;
  queued: number;
  playing: boolean;
}

/** Frames -> speakers without gaps; underruns counted and reported. */
export class AudioPlayback extends EventTarget {
  readonly context: DomBaseAudioContext;
  readonly node: DomAudioWorkletNode;
  readonly underruns: number;
  addEventListener(type: 'underrun' | 'stats', listener: (event: CustomEvent<PlaybackStats>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** Queue one frame (its buffer is transferred). */
  push(samples: Float32Array): void;
  /** No more audio for now: running dry is then not an underrun. */
  end(): void;
  clear(): void;
  /** A port the engine can send frames to directly. */
  channel(): MessagePort;
  stats(): Promise<PlaybackStats>;
  dispose(): void;
}

export function createPlayback(context: DomBaseAudioContext, options?: { prebufferFrames?: number; destination?: DomAudioNode }): Promise<AudioPlayback>;

// ---- frame tokenizers and words, usable on their own ----

/** One stream of 80 ms frames through Mimi: encoder and decoder states of its own. */
export interface MimiStreamLike {
  readonly frameSize: number;
  /** Codes per frame of this stream. */
  readonly numCodebooks: number;
  /** `frameSize` samples (finite) -> `numCodebooks` codes. Throws KyutaiError on a wrong length or a NaN. */
  encodeStep(pcm: Float32Array): Int32Array;
  /** `numCodebooks` codes (0 .. cardinality - 1) -> `frameSize` samples. */
  decodeStep(codes: Int32Array | number[]): Float32Array;
  /** Back to the start of a stream. */
  reset(): void;
  dispose(): void;
}

/** A stream made by MimiCodec.createStream: it shares the codec's weights. */
export interface MimiStream extends MimiStreamLike {
  readonly codebooks: number;
  readonly disposed: boolean;
}

/**
 * The object engine.loadMimi(config, weights, {threads, format, onProgress}) returns (the
 * engine module, `kyutai-wasm/engine`). Its own streaming methods use a default stream of all
 * codebooks; createStream makes more streams on the same weights. Codes of whole clips are
 * codebook-major: codes[codebook * frames + frame].
 */
export interface MimiCodec extends MimiStreamLike {
  readonly sampleRate: number;
  readonly frameRate: number;
  readonly frameSize: number;
  /** Codebooks of the checkpoint (32 for Kyutai's release). */
  readonly numCodebooks: number;
  /** The semantic codebooks (the fewest a stream can have). */
  readonly semanticCodebooks: number;
  /** Entries per codebook: codes are 0 .. cardinality - 1. */
  readonly cardinality: number;
  readonly threads: number;
  readonly disposed: boolean;
  /** A whole clip, zero-padded to whole frames -> its codes (the first `codebooks` levels). */
  encode(pcm: Float32Array, codebooks?: number): { codes: Int32Array; codebooks: number; frames: number };
  /** Codes [codebooks][frames] -> frames * frameSize samples. */
  decode(codes: Int32Array | number[], frames: number): Float32Array;
  /**
   * A clip -> its latent before quantization, [1, dim, frames] (Kyutai's encode_to_latent): a
   * TTS voice for LmModel.createSpeaker. `seconds`: Kyutai's voice recipe (its voices take 10),
   * the clip cut or zero-padded to exactly that first (at least 1 s of audio). `sampleRate`,
   * when given, must be the codec's.
   */
  encodeToLatent(pcm: Float32Array, options?: { seconds?: number; sampleRate?: number }): import('./engine.js').VoiceLatent;
  /** A voice latent as a kyutai/tts-voices file (safetensors speaker_wavs F32 [1, C, T]). */
  voiceFile(latent: import('./engine.js').VoiceLatent): Uint8Array;
  /** A new stream of `codebooks` codes per frame (semanticCodebooks .. numCodebooks; default all). */
  createStream(codebooks?: number): MimiStream;
  /** Frees the weights and every stream made from them. */
  dispose(): void;
}

export class MimiFrameTokenizer implements FrameTokenizer {
  /** `decoder`: a second stream for decode() when a model writes a different number of codebooks than it reads. */
  constructor(mimi: MimiStreamLike, options?: { decoder?: MimiStreamLike | null });
  readonly kind: 'mimi';
  readonly frameSize: number;
  readonly codebooks: number;
  encode(frame: Float32Array): Int32Array;
  decode(codes: Int32Array): Float32Array;
  reset(): void;
  dispose(): void;
}

export function checkFrameTokenizer<T extends FrameTokenizer>(tokenizer: T, what?: string): T;

/** The engine's word-stream events (src/session/word_stream.h: Kyutai's rule, in C++). */
export type WordStreamEvent =
  | { type: 'word'; tokens: Int32Array | number[]; time: number; step?: number }
  | { type: 'endWord'; time: number; step?: number };

/**
 * Pairs the engine's Word / EndWord events into words with both times. A word left unended
 * when the next one starts ends at that word's start; flush(time) gives a word still waiting.
 */
export class WordAssembler {
  /** `decode`: ids -> text (e.g. a synchronous tokenizer's decodeWord); without it `text` is null. */
  constructor(options?: { decode?: ((ids: Int32Array) => string) | null });
  /** The word whose end is not known yet. */
  readonly pending: { tokens: Int32Array; start: number } | null;
  /** Events in order (other types ignored) -> the words they complete. */
  push(events: Iterable<WordStreamEvent | { type: string }>): TranscriptWord[];
  flush(time?: number): TranscriptWord[];
  reset(): void;
}

// ---- speech-to-text ----

export interface TranscriberOptions {
  /** The semantic-VAD head whose pause probability drives endOfTurn (default 2: Kyutai's clients). */
  vadHead?: number;
  /** endOfTurn fires when that probability rises above this (default 0.5), once per turn. */
  endOfTurnThreshold?: number;
  /** 0 (default): argmax; a finite number 0..1000. */
  temperature?: number;
  seed?: number;
  /** Models loaded without Mimi: the codes of a silent frame, for flush (default: absent tokens). */
  silenceCodes?: Int32Array | number[];
}

/** A word, given once its end is known. Times in seconds of the audio. */
export interface TranscriptWord {
  type: 'word';
  /** null when the model has no text tokenizer. */
  text: string | null;
  tokens: Int32Array;
  start: number;
  end: number;
}

/** Every frame: the pause probability of each VAD head. */
export interface VadEvent {
  type: 'vad';
  probabilities: number[];
  /** probabilities[vadHead]. */
  pause: number;
  /** max(0, (frame + 1 - asrDelayInTokens) / 12.5) seconds. */
  time: number;
  step: number;
}

export interface EndOfTurnEvent {
  type: 'endOfTurn';
  /** The chosen head's pause probability. */
  probability: number;
  time: number;
  step: number;
}

export type TranscriptEvent = TranscriptWord | VadEvent | EndOfTurnEvent;

/** A live stream's result: one per frame stepped. */
export interface TranscriberStep {
  step: number;
  textToken: number;
  /** The audio codes the step read. */
  codes: Int32Array;
  events: TranscriptEvent[];
  seq?: number;
  timing?: StepTiming;
  stats?: StreamStats;
}

export interface TranscriberEventMap {
  word: CustomEvent<TranscriptWord>;
  vad: CustomEvent<VadEvent>;
  endOfTurn: CustomEvent<EndOfTurnEvent>;
  error: CustomEvent<KyutaiError>;
}

/** Speech-to-text as Kyutai ships it. Events also arrive through the async iterator. */
export class Transcriber extends EventTarget implements AsyncIterable<TranscriptEvent> {
  readonly id: number;
  readonly model: KyutaiModel;
  readonly vadHead: number;
  /** VAD heads of the model (0: no vad events). */
  readonly heads: number;
  readonly frameSize: number;
  readonly frameRate: number;
  readonly sampleRate: number;
  readonly disposed: boolean;
  addEventListener<K extends keyof TranscriberEventMap>(type: K, listener: (event: TranscriberEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** 24 kHz samples, any number (cut into 1920-sample frames) -> the events they caused. */
  pushAudio(samples: Float32Array): Promise<TranscriptEvent[]>;
  /** One frame of the model's nQ audio codes. */
  pushCodes(codes: Int32Array | number[]): Promise<TranscriptEvent[]>;
  /** End of the audio: the model's delay + 1 s of silence; resolves with the last words. */
  flush(): Promise<TranscriptWord[]>;
  /** A new transcript from time 0 (a connected capture keeps streaming). */
  reset(): Promise<void>;
  /** Live audio from a capture node, straight to the engine. Closing the stream does not flush. */
  connect(capture: AudioCapture, options?: { maxQueuedFrames?: number }): Promise<ResultStream<TranscriberStep>>;
  [Symbol.asyncIterator](): AsyncIterator<TranscriptEvent>;
  dispose(): Promise<void>;
}

export interface TranscribeOptions extends TranscriberOptions {
  /** Of a Float32Array (default 24000); an AudioBuffer has its own. */
  sampleRate?: number;
  /** Audio pushed per call (default 30 s). */
  chunkSeconds?: number;
  onProgress?: (progress: { seconds: number; duration: number }) => void;
}

export interface Transcript {
  words: Array<{ text: string | null; tokens: Int32Array; start: number; end: number }>;
  endsOfTurn: Array<{ time: number; probability: number }>;
  /** Seconds of audio at 24 kHz. */
  duration: number;
}

/** Band-limited (windowed-sinc) resampling of mono audio. */
export function resample(input: Float32Array | ArrayLike<number>, fromRate: number, toRate?: number, options?: { halfTaps?: number }): Float32Array;
/** A Float32Array at `sampleRate` or an AudioBuffer -> 24 kHz mono samples. */
export function toMono24k(audio: Float32Array | DomAudioBuffer, options?: { sampleRate?: number }): Promise<Float32Array>;

// ---- captions ----

export interface Cue {
  /** Seconds, whole milliseconds. */
  start: number;
  end: number;
  text: string;
}

export interface CaptionOptions {
  /** Longest cue, first word's start to last word's end (default 5 s). */
  maxLineSeconds?: number;
  /** Default 12. */
  maxWords?: number;
  /** Default 42. */
  maxChars?: number;
  /** A silence longer than this starts a new cue (default 1.5 s). */
  maxGapSeconds?: number;
  /** Times (e.g. ends of turn) a cue may not span. */
  breaks?: number[];
}

export interface CaptionWord {
  text: string | null;
  start: number;
  end: number | null;
}

export function wordsToCues(words: Iterable<CaptionWord>, options?: CaptionOptions): Cue[];
export function toWebVTT(words: Iterable<CaptionWord>, options?: CaptionOptions): string;
export function toWebVTT(cues: Cue[], options: { cues: true }): string;
export function toSRT(words: Iterable<CaptionWord>, options?: CaptionOptions): string;
export function toSRT(cues: Cue[], options: { cues: true }): string;
export function parseWebVTT(text: string): Array<Cue & { id: string; settings: string }>;
export function parseSRT(text: string): Array<Cue & { index: number }>;
