// Frame tokenizers (Mimi), usable on their own.
import type { FrameTokenizer } from './load.js';

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
