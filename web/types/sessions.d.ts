// The step-by-step sessions of a model: ASR, TTS and full duplex, and their per-frame results.
import type { AudioCapture, AudioPlayback } from './audio.js';
import type { Backend } from './model.js';
import type { ResultStream } from './streams.js';

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
