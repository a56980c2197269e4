// Type declarations of kyutai-wasm (hand-written; the sources are plain ES modules in web/src/).

/** Samples per second of every audio frame: 24 kHz. */
export const SAMPLE_RATE: 24000;
/** Samples per frame: 1920 (80 ms). */
export const FRAME_SIZE: 1920;
/** Frames per second: 12.5. */
export const FRAME_RATE: number;

/** Stable error codes of the engine. */
export type KyutaiErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_CHECKPOINT' | 'INVALID_CONFIG' | 'LIMIT_EXCEEDED'
  | 'UNSUPPORTED' | 'INVALID_STATE' | 'OUT_OF_MEMORY' | 'INTERNAL';

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

export interface LoadProgress {
  /** Bytes of the weights received so far. */
  loaded: number;
  /** Size of the weights, once known (from the safetensors header or the source). */
  total: number | undefined;
  /** Tensors loaded so far. */
  tensors: number;
}

/**
 * Turns 24 kHz audio frames into the audio codes a model reads (and back). Kyutai's is the
 * Mimi codec; `'band-energy'` is a deterministic placeholder (per-codebook quantization of
 * band energies) with no meaning to a real model.
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
  | 'band-energy'
  | { type: 'band-energy'; options?: BandEnergyOptions }
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
  weights: ByteSource;
  /** Convert weights at load time: 'q8' (8-bit) or 'q4' (4-bit) shrink memory; default 'auto' keeps the stored type. */
  format?: WeightFormat;
  /** Threads of the kernels (pthreads build only, i.e. cross-origin isolated pages). Default: one per core. */
  threads?: number;
  onProgress?: (progress: LoadProgress) => void;
  /** Run the engine in a Web Worker (default in browsers) or in this thread (default and only choice in Node). */
  worker?: boolean;
  /** SentencePiece model of the text vocabulary (tokenizer_*.model); needs the engine's tokenizer. */
  tokenizer?: ByteSource;
  /** How audio frames become codes. Default 'band-energy' (placeholder). */
  frameTokenizer?: FrameTokenizerSpec;
  /** Override where the engine's .mjs module is loaded from. */
  moduleUrl?: string;
  /** Override where the package's worker script is loaded from (bundlers). */
  workerUrl?: string | URL;
  /**
   * Where the LM runs. 'auto' (default): WebGPU when the browser offers it, the model's
   * architecture is supported and a kernel self-test agrees with WebAssembly; otherwise
   * WebAssembly SIMD. 'webgpu': the same, but loadModel rejects (UNSUPPORTED) instead of
   * falling back. 'wasm': never WebGPU. `backendReason` says what happened.
   */
  backend?: BackendChoice;
}

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
  threaded: boolean;
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

export class KyutaiModel {
  readonly config: ModelConfig;
  /** Where new sessions run; updated by backendStatus() (a lost GPU device moves sessions to WebAssembly). */
  readonly backend: Backend;
  /** Why this backend: the adapter, or why WebGPU was not used (no adapter, unsupported option, self-test, lost device...). */
  readonly backendReason: string | null;
  readonly threads: number;
  readonly weightBytes: number;
  readonly frameTokenizer: FrameTokenizerInfo;
  readonly textTokenizer: TextTokenizer | null;
  readonly engine: EngineInfo;
  readonly inWorker: boolean;
  readonly disposed: boolean;
  createAsrSession(options?: AsrOptions): Promise<AsrSession>;
  createTtsSession(options?: GenerationOptions): Promise<TtsSession>;
  createDuplexSession(options?: GenerationOptions): Promise<DuplexSession>;
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
  /** <= 0: argmax (Kyutai's default for speech-to-text). */
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
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
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
  readonly context: BaseAudioContext;
  readonly node: AudioWorkletNode;
  addEventListener(type: 'frame', listener: (event: CustomEvent<CaptureFrame>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'stats', listener: (event: CustomEvent<CaptureStats>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
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
  source?: 'microphone' | MediaStream | AudioNode;
  frameSize?: number;
  sampleRate?: number;
}

export function createCapture(context: BaseAudioContext, options?: CaptureOptions): Promise<AudioCapture>;
/** getUserMedia with echo cancellation, noise suppression and gain control off. */
export function openMicrophone(constraints?: MediaTrackConstraints): Promise<MediaStream>;

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
  readonly context: BaseAudioContext;
  readonly node: AudioWorkletNode;
  readonly underruns: number;
  addEventListener(type: 'underrun' | 'stats', listener: (event: CustomEvent<PlaybackStats>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
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

export function createPlayback(context: BaseAudioContext, options?: { prebufferFrames?: number; destination?: AudioNode }): Promise<AudioPlayback>;

// ---- frame tokenizers and words, usable on their own ----

export interface BandEnergyOptions {
  codebooks?: number;
  card?: number;
  frameSize?: number;
  sampleRate?: number;
  minDb?: number;
  maxDb?: number;
  lowHz?: number;
  highHz?: number;
}

/** The placeholder frame tokenizer: log band energies quantized per codebook; decode = one sine per band. */
export class BandEnergyTokenizer implements FrameTokenizer {
  constructor(options?: BandEnergyOptions);
  readonly kind: 'band-energy';
  readonly frameSize: number;
  readonly codebooks: number;
  readonly card: number;
  bandDb(frame: Float32Array): Float64Array;
  encode(frame: Float32Array): Int32Array;
  decode(codes: Int32Array): Float32Array;
  reset(): void;
  dispose(): void;
}

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

/** Synchronous word-level view of a tokenizer, as the engine exposes it. */
export interface WordDecoder {
  decodeWord(ids: Int32Array): string;
}

/** Streamed text tokens -> words, with Kyutai's rule: padding after a word's tokens makes it final. */
export class WordAssembler {
  constructor(options: { paddingId: number; endPaddingId: number; delaySteps?: number; frameRate?: number; tokenizer?: WordDecoder | null });
  push(step: number, token: number): { words: Word[]; ended: Word | null };
  flush(): Word[];
  reset(): void;
}
