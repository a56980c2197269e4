// Frame tokenizers: 24 kHz audio frames <-> the audio codes a Kyutai model reads and writes.
//
// The interface every pipeline stage depends on (and nothing more):
//   frameSize   samples per frame (Kyutai: 1920 = 80 ms at 24 kHz, 12.5 frames per second)
//   codebooks   codes per frame returned by encode()
//   encode(Float32Array frameSize samples) -> Int32Array codes (length codebooks; length 0
//               while a streaming codec is still warming up). Must not keep the input array:
//               the pipeline recycles its buffer right after the call.
//   decode(Int32Array codes) -> Float32Array frameSize samples   (optional)
//   reset()     forget the streaming state (optional)
//   dispose()   free what it holds (optional)
//
// Kyutai's own tokenizer is the Mimi codec (C++, in the engine). MimiFrameTokenizer adapts
// the engine's Mimi object to this interface; loadModel's `frameTokenizer` also takes a
// module making tokenizers ({module: url}) or, in-process, a tokenizer object.
import { KyutaiError } from './errors.js';

export const SAMPLE_RATE = 24000;
export const FRAME_SIZE = 1920;
export const FRAME_RATE = SAMPLE_RATE / FRAME_SIZE;  // 12.5 Hz

// Throws a KyutaiError naming what is wrong with a would-be frame tokenizer.
export function checkFrameTokenizer(t, what = 'frame tokenizer') {
  const bad = (m) => new KyutaiError(`${what}: ${m}`, 'INVALID_ARGUMENT');
  if (!t || typeof t !== 'object') throw bad('expected an object {frameSize, codebooks, encode}');
  if (!Number.isInteger(t.frameSize) || t.frameSize <= 0) throw bad(`frameSize must be a positive integer, got ${t.frameSize}`);
  if (!Number.isInteger(t.codebooks) || t.codebooks <= 0) throw bad(`codebooks must be a positive integer, got ${t.codebooks}`);
  if (typeof t.encode !== 'function') throw bad('encode(Float32Array) -> Int32Array is missing');
  if (t.decode !== undefined && typeof t.decode !== 'function') throw bad('decode must be a function when given');
  return t;
}

// ---------------------------------------------------------------------------------------
// Kyutai's Mimi codec from the engine: engine.loadMimi(configText, weights) returns
// {frameSize, numCodebooks, encodeStep, decodeStep, encode, decode, reset, dispose,
// createStream(codebooks)}; a stream has the same streaming half. Streaming steps map one
// to one onto the frame interface. Mimi is causal: every frame gives its codes at once.
// A stream codes a fixed number of codebooks; a session whose model writes a different
// number than it reads (decode) passes a second stream as `decoder`.
export class MimiFrameTokenizer {
  constructor(mimi, { decoder = null } = {}) {
    this.kind = 'mimi';
    this.mimi = mimi;
    this.decoder = decoder;
    this.frameSize = mimi.frameSize;
    this.codebooks = mimi.numCodebooks;
  }
  encode(frame) {
    return this.mimi.encodeStep(frame);
  }
  decode(codes) {
    return (this.decoder ?? this.mimi).decodeStep(codes);
  }
  reset() {
    this.mimi.reset();
    this.decoder?.reset();
  }
  dispose() {
    this.mimi.dispose();
    this.decoder?.dispose();
  }
}
