// A loaded model (web/src/index.js KyutaiModel), its configuration, its backend and loading by name.
import type { DomAudioBuffer } from './dom.js';
import type { LoadInfo, LoadModelOptions, ModelFile, WeightFormat } from './load.js';
import type { AsrOptions, AsrSession, DuplexSession, GenerationOptions, TtsSession } from './sessions.js';
import type { TranscribeOptions, Transcriber, TranscriberOptions, Transcript } from './transcriber.js';

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
  /** Mimi: where its weights came from; by http(s) URL they go through the model cache as the LM's do. */
  source?: 'network' | 'cache' | 'local';
  /** Mimi: why the model cache was not used or not written, if it was not. */
  cacheError?: string;
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
  /** Kyutai's TTS in one voice (a TTS model loaded with its tokenizer; Mimi for PCM): web/types/speaker.d.ts. */
  createSpeaker(options: import('./speaker.js').SpeakerOptions): Promise<import('./speaker.js').Speaker>;
  /**
   * A TTS voice from the caller's recording (mono, 24 kHz), as Kyutai's voice script makes one:
   * Mimi's latent (not quantized) of its first `seconds` (default 10, the length of Kyutai's
   * voices; 1 to 60), cut or zero-padded to exactly that. Needs the model's Mimi codec.
   */
  createVoice(samples: Float32Array, options?: { seconds?: number }): Promise<import('./speaker.js').VoiceLatent>;
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
