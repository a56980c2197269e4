// Kyutai's text-to-speech through the package (web/src/speaker.js): KyutaiModel.createSpeaker.
import type { AudioPlayback, ByteSource, KyutaiError, KyutaiModel } from './index.js';

type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

/** A voice latent: Mimi's encode_to_latent of a recording (not quantized), shape [1, C, T]. */
export interface VoiceLatent {
  data: Float32Array;
  shape: number[];
}

export interface SpeakerOptions {
  /**
   * The voice: a file in the kyutai/tts-voices format (safetensors `speaker_wavs` [1, C, T]) as a
   * URL, path (Node), bytes, Blob or stream; or, for a model loaded by name, a voice name of
   * kyutai/tts-voices such as 'expresso/ex03-ex01_happy_001_channel1_334s.wav' (the model's
   * `.{sig}@{epoch}.safetensors` is appended); or a VoiceLatent.
   */
  voice: ByteSource | VoiceLatent;
  /** CFG coefficient (default 2): one of the cfg LUT's values ("1.0".."4.0") on a CFG-distilled model, else real CFG in (0, 100]. */
  cfg?: number;
  /** Audio codebooks generated (default 0: all of the model's). */
  nQ?: number;
  /** Temperature sampling (Kyutai's TTS: 0.6) instead of greedy (default false). */
  sampling?: boolean;
  temperature?: number;
  seed?: number;
  /** Steps at most (default 30000, Kyutai's). */
  maxGenLength?: number;
}

/** A spoken word; times are seconds of the speaker's PCM. */
export interface SpokenWord {
  text: string;
  start: number;
  /** The next word's start, or the end of the audio for the last word. */
  end: number;
}

export interface SpeakerStats {
  /**
   * Time to first audio: milliseconds from the first speak() / pushText() call to the first
   * chunk with PCM, on the caller's clock (worker messages included); null until then.
   */
  firstAudioMs: number | null;
  /** Generation steps run. */
  steps: number;
  /** Seconds of audio generated. */
  audioSeconds: number;
  /** The last step's time (LM + Depformer + Mimi decode), and the mean. */
  computeMs: number;
  meanStepMs: number;
  /** Mean step time / 80 ms of audio: below 1 is faster than real time. */
  rtf: number;
}

export interface SpeakerChunk {
  /** The generation step. */
  step: number;
  /** The frame's codes, text first then the nQ audio codebooks (delays undone); null in the first steps. */
  frame: Int32Array | null;
  /** frameSize samples at sampleRate; null within the first delaySteps frames, or for a model without Mimi. */
  pcm: Float32Array | null;
  /** Words whose end this step fixed. */
  words: SpokenWord[];
  stats: SpeakerStats;
}

export interface SpeakerEventMap {
  chunk: CustomEvent<SpeakerChunk>;
  end: CustomEvent<{ stats: SpeakerStats }>;
  error: CustomEvent<KyutaiError>;
}

/** An async iterator of chunks until the speech ends (or dispose()); a failed step is thrown. */
export interface SpeakerChunks extends AsyncIterableIterator<SpeakerChunk> {}

/** Kyutai's TTS in one voice: text in (whole, or in pieces), chunks of PCM with word timings out. */
export class Speaker extends EventTarget implements AsyncIterable<SpeakerChunk> {
  readonly id: number;
  readonly model: KyutaiModel;
  /** Frames generated before the audio starts (the text leads the audio by this much). */
  readonly delaySteps: number;
  /** Of the PCM: 24000 (0 for a model without Mimi: codes only). */
  readonly sampleRate: number;
  readonly frameSize: number;
  readonly frameRate: number;
  readonly stats: SpeakerStats;
  /** True once the speech has ended (after end(), its last chunk given). */
  readonly finished: boolean;
  readonly disposed: boolean;
  addEventListener<K extends keyof SpeakerEventMap>(type: K, listener: (event: SpeakerEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** A whole script (`<break time="0.5s"/>` for pauses): its chunks until the speech ends. */
  speak(text: string): SpeakerChunks;
  /** Appends text; a word is spoken once whitespace (or end()) follows it. Refused after end(). */
  pushText(text: string): Promise<void>;
  /** No more text: the speech ends after the last word. */
  end(): Promise<void>;
  /** The PCM also goes to this playback node, straight from the engine's thread. */
  connect(playback: AudioPlayback): Promise<void>;
  /** Chunks from now until the speech ends. */
  [Symbol.asyncIterator](): SpeakerChunks;
  dispose(): Promise<void>;
}

/** The kyutai/tts-voices repository. */
export const KYUTAI_VOICE_REPO: 'kyutai/tts-voices';

/** A voice name -> the URL of its file: `<name>.<sig>@<epoch>.safetensors` of the voices repository. */
export function voiceFileUrl(name: string, modelId: { sig: string; epoch: number } | null, options?: { hub?: string; revision?: string; repo?: string }): string;
