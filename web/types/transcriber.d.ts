// Speech-to-text as Kyutai ships it (web/src/transcriber.js).
import type { AudioCapture } from './audio.js';
import type { Listener } from './dom.js';
import type { KyutaiError } from './errors.js';
import type { KyutaiModel } from './model.js';
import type { StepTiming, StreamStats } from './sessions.js';
import type { ResultStream } from './streams.js';

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
