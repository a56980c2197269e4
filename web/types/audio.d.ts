// Audio in and out: frame constants, Web Audio capture and playback, resampling.
import type { DomAudioBuffer, DomAudioNode, DomAudioWorkletNode, DomBaseAudioContext, DomMediaStream, DomMediaTrackConstraints, Listener } from './dom.js';

/** Samples per second of every audio frame: 24 kHz. */
export const SAMPLE_RATE: 24000;
/** Samples per frame: 1920 (80 ms). */
export const FRAME_SIZE: 1920;
/** Frames per second: 12.5. */
export const FRAME_RATE: number;

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


/** Band-limited (windowed-sinc) resampling of mono audio. */
export function resample(input: Float32Array | ArrayLike<number>, fromRate: number, toRate?: number, options?: { halfTaps?: number }): Float32Array;
/** A Float32Array at `sampleRate` or an AudioBuffer -> 24 kHz mono samples. */
export function toMono24k(audio: Float32Array | DomAudioBuffer, options?: { sampleRate?: number }): Promise<Float32Array>;
