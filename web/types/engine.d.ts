// Type declarations of `kyutai-wasm/engine` (web/src/engine.js, web/src/lm.js): the
// WebAssembly engine used directly, synchronously, in the thread that imports it. This is the
// low-level model API (teacher-forced forward passes, raw streaming steps) for research,
// conformance and custom loops; `kyutai-wasm` itself is the streaming session API.
//
// Tensors are row-major `{data, shape}`. Token streams follow Kyutai's order: the text stream
// first, then the audio codebooks.
import type { ModelConfig, MimiCodec, WeightFormat, ByteSource } from './index.js';

export type { ModelConfig, MimiCodec, MimiStream } from './index.js';

/** A row-major tensor: `data.length` is the product of `shape`. */
export interface Tensor<T extends ArrayLike<number> = Float32Array> {
  data: T;
  shape: number[];
}

/** One token stream: an Int32Array (one batch item, T steps) or `{data, shape: [B, T]}`. */
export type TokenStream = Int32Array | number[] | { data: Int32Array | number[]; shape: [number, number] };

/**
 * Post-delay input streams, any of them absent (Kyutai's `Vec<Option<Tensor>>`): `audio` has
 * `nQ` entries (or is omitted), each a stream or null.
 */
export interface StreamsInput {
  text?: TokenStream | null;
  audio?: Array<TokenStream | null>;
}

/** LMModel.forward on pre-delay codes. */
export interface ForwardOutput {
  /** [B, 1, T, textCardOut], step domain (as forward_text gives it). */
  textLogits: Tensor;
  /** [B, depQ, T, card], step (delayed) domain. */
  audioLogits: Tensor;
  /** LMOutput.logits: [B, depQ, T, card], undelayed, NaN where invalid. */
  logits: Tensor;
  /** LMOutput.mask: [B, depQ, T], 1 where `logits` is valid. */
  mask: Tensor<Uint8Array>;
  /** LMOutput.text_mask: [B, 1, T]. */
  textMask: Tensor<Uint8Array>;
  /** [B, T, dim], after the output norm. */
  transformerOut: Tensor;
}

/** LMModel.forward_text on post-delay streams, with the configured fusion and the extra heads. */
export interface ForwardAsrOutput {
  /** [B, 1, T, textCardOut] */
  textLogits: Tensor;
  /** [B, T, dim] */
  transformerOut: Tensor;
  /** [B, T, dim] */
  embeddingSum: Tensor;
  /** Softmax probabilities of the VAD heads: [extraHeads, B, T, extraHeadsDim] (empty without heads). */
  extraHeads: Tensor;
}

export interface LoadLmOptions {
  format?: WeightFormat;
  threads?: number;
  kvCache?: 'f32' | 'bf16';
  /** Refuse a model whose footprint exceeds this many bytes (default: what the heap can still take; null: no limit). */
  maxBytes?: number | null;
  onProgress?: (progress: { bytes: number; tensors: number; totalBytes?: number; file: number; files: number }) => void;
  /** Stops the load with an ABORTED KyutaiError, freeing what was loaded. */
  signal?: AbortSignal;
}

export function threadsAvailable(): boolean;
export function relaxedSimdAvailable(): boolean;

/** A build's name: kyutai[-mt][-relaxed]. */
export type BuildName = 'kyutai' | 'kyutai-relaxed' | 'kyutai-mt' | 'kyutai-mt-relaxed';
export function buildName(threaded: boolean, relaxed: boolean): BuildName;
/** Where a build's file (e.g. 'kyutai-mt.wasm') is: under `assetBase`, or where the bundler put it. */
export function buildFileUrl(file: string, assetBase?: string | URL): string;

/**
 * threads > 1 (or undefined) takes the pthreads build where the page is cross-origin isolated;
 * assetBase: where dist/ is served (CDN); moduleUrl: one build's .mjs, used as is.
 */
export function createEngine(options?: { threads?: number; moduleUrl?: string; assetBase?: string | URL; locateFile?: (path: string) => string; relaxedSimd?: boolean }): Promise<Engine>;

export class Engine {
  /** The build running (asked of the module when it was given by moduleUrl). */
  readonly build: BuildName;
  readonly threaded: boolean;
  readonly relaxedSimd: boolean;
  readonly backend: 'wasm-simd' | 'wasm-simd-threads';
  heapBytes(): number;
  heapInUse(): number;
  heapAvailable(): number;
  /** Kyutai's config.json (text or object) and a safetensors checkpoint (or `{shards}`). */
  loadLm(config: string | Record<string, unknown>, weights: ByteSource | { shards: ByteSource[] }, options?: LoadLmOptions): Promise<LmModel>;
  loadMimi(config: string | Record<string, unknown>, weights: ByteSource, options?: { format?: WeightFormat; threads?: number; onProgress?: (progress: { bytes: number; tensors: number; totalBytes?: number }) => void; signal?: AbortSignal }): Promise<MimiCodec>;
  loadTokenizer(source: ByteSource): Promise<Tokenizer>;
}

export class Tokenizer {
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: Int32Array | number[]): string;
  decodeWord(ids: Int32Array | number[]): string;
  idToPiece(id: number): string;
  startsWord(id: number): boolean;
  dispose(): void;
}

export class LmModel {
  readonly config: ModelConfig;
  readonly disposed: boolean;
  weightBytes(): number;
  bytesReadPerFrame(): number;
  kvCache(): 'f32' | 'bf16';
  threads(): number;
  exportWeights(onChunk: (chunk: Uint8Array) => void): number;
  /** Kyutai's embedding sum: {data, shape: [B, T, dim]} (`values` is `data`, the older name). */
  embeddingSum(input: StreamsInput): Tensor & { values: Float32Array };
  /** The fused transformer input (with positional terms) at position `offset`. */
  fuse(input: StreamsInput, offset?: number): { values: Float32Array; mask: Uint8Array; shape: number[] };
  /** Teacher-forced LMModel.forward: pre-delay `codes` of `shape` [B, 1 + nQ, T] (text first). */
  forward(codes: Int32Array | number[], shape: [number, number, number]): ForwardOutput;
  /** LMModel.forward_text on post-delay streams, any absent. */
  forwardAsr(input: StreamsInput): ForwardAsrOutput;
  /** Raw streaming steps with teacher forcing. */
  createStepper(): LmStepper;
  /** Kyutai's TTS in one voice (a TTS model: config.tts_config). Errors: KyutaiError with a code. */
  createSpeaker(options: SpeakerOptions): Promise<Speaker>;
  /** Frees the weights and every session and stepper made from them. */
  dispose(): void;
}

/**
 * One stream of raw LM steps with its own KV cache (Kyutai's streaming LMModel as LMGen drives
 * it). step() takes one time step's K = 1 + nQ post-delay tokens (text first; -1: none);
 * depformerStep(k, token) then runs Depformer position k on that step's output with `token` as
 * its input (the text token for k = 0, audio codebook k - 1 after).
 */
export class LmStepper {
  readonly config: ModelConfig;
  readonly disposed: boolean;
  /** Time steps taken since the start or the last reset. */
  readonly position: number;
  /** -> textLogits [textCardOut], transformerOut [dim]. */
  step(tokens: Int32Array | number[]): { textLogits: Tensor; transformerOut: Tensor };
  /** k in [0, depQ) -> logits [card] of audio codebook k. */
  depformerStep(k: number, token: number): Tensor;
  /** The VAD heads' probabilities for the latest step: [extraHeads, extraHeadsDim]. */
  extraHeads(): Tensor;
  reset(): void;
  dispose(): void;
}

/** A voice's Mimi latent, speaker_wavs [1, C, T] channel-major (MimiCodec.encodeToLatent). */
export interface VoiceLatent {
  data: Float32Array;
  shape: [1, number, number] | number[];
}

export interface SpeakerOptions {
  /** A voice latent (a recording through MimiCodec.encodeToLatent), or a kyutai/tts-voices file (safetensors `speaker_wavs` [1, C, T]). */
  voice: VoiceLatent | ByteSource;
  /** The model's SentencePiece tokenizer: a loaded Tokenizer (shared with the speaker) or its tokenizer.model. */
  tokenizer: Tokenizer | ByteSource;
  /** Decodes each frame to PCM (omitted: frames only). */
  mimi?: MimiCodec;
  /** CFG coefficient (default 2): one of the cfg LUT's values on a distilled model, else real CFG. */
  cfg?: number;
  /** Audio codebooks generated (default: all of depQ). */
  nQ?: number;
  /** Temperature sampling (Kyutai's TTS: 0.6, top-k 25 text / 250 audio) instead of greedy. */
  sampling?: boolean;
  temperature?: number;
  seed?: number;
  maxGenLength?: number;
}

export interface SpeakerWord {
  text: string;
  /** The generation step that consumed the word. */
  step: number;
  /** Seconds into the speaker's PCM where the word's audio starts (step / frameRate). */
  time: number;
}

export interface SpeakerChunk {
  /** frameSize samples at sampleRate, or null (no codec, or within the first delaySteps frames). */
  pcm: Float32Array | null;
  words: SpeakerWord[];
  step: number;
}

/** Kyutai's TTS generation for one voice, one frame per step(). */
export class Speaker {
  readonly delaySteps: number;
  readonly sampleRate: number;
  readonly frameSize: number;
  readonly frameRate: number;
  readonly disposed: boolean;
  /** Appends text; a word is complete once whitespace (or end()) follows it. Returns `ready`. */
  pushText(text: string): boolean;
  /** No more text. */
  end(): void;
  /** Whether step() may run (false: waiting for more text or end()). */
  readonly ready: boolean;
  /** False once the speech has ended. */
  readonly running: boolean;
  /** One frame: [1 + nQ] codes (text first) once past the delays, its PCM, the words started. */
  step(): SpeakerChunk & { frame: Int32Array | null };
  /** Chunks while steps can run: all of `text` (then end()) when given, else until more text is needed. */
  speak(text?: string): AsyncGenerator<SpeakerChunk, void, undefined>;
  dispose(): void;
}
