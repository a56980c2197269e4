// Wrappers of the engine's text tokenizer (SentencePiece) and Mimi codec.
import { unwrap } from './errors.js';
import { Disposable } from './disposable.js';

export class Tokenizer extends Disposable {
  constructor(handle, vocabSize) {
    super(handle);
    this.vocabSize = vocabSize;
  }
  encode(text) {
    return unwrap(this.handle.encode(String(text)));
  }
  decode(ids) {
    return unwrap(this.handle.decode(ids));
  }
  // One word's pieces as text, without the space its leading word marker stands for.
  decodeWord(ids) {
    return unwrap(this.handle.decodeWord(ids));
  }
  idToPiece(id) {
    return unwrap(this.handle.idToPiece(id));
  }
  startsWord(id) {
    return unwrap(this.handle.startsWord(id));
  }
}

// A loaded Mimi. Its own streaming methods use a default stream of all its codebooks,
// made at the first step; createStream(codebooks) makes independent streams (one per
// session) that share these weights. Codes of whole clips are codebook-major:
// codes[codebook * frames + frame].
export class MimiCodec extends Disposable {
  #default = null;

  constructor(engine, handle) {
    super(handle);
    this.engine = engine;
    const info = unwrap(handle.info());
    this.sampleRate = info.sampleRate;
    this.frameRate = info.frameRate;
    this.frameSize = info.frameSize;
    this.numCodebooks = info.numCodebooks;
    this.semanticCodebooks = info.semanticCodebooks;
    this.cardinality = info.cardinality;  // codes are 0 .. cardinality - 1
    this.threads = info.threads;
    this.streams = new Set();
  }

  // A stream of `codebooks` codes per frame (semanticCodebooks .. numCodebooks): a prefix of
  // the residual levels, as Kyutai's set_num_codebooks.
  createStream(codebooks = this.numCodebooks) {
    const handle = new this.engine.module.MimiStream();
    try {
      unwrap(handle.init(this.handle, codebooks));
    } catch (e) {
      handle.delete();
      throw e;
    }
    const stream = new MimiStream(this, handle, codebooks);
    this.streams.add(stream);
    return stream;
  }

  #stream() {
    if (!this.#default || this.#default.disposed) this.#default = this.createStream();
    return this.#default;
  }
  // One frame of frameSize samples -> numCodebooks codes.
  encodeStep(pcm) {
    return this.#stream().encodeStep(pcm);
  }
  // numCodebooks codes -> frameSize samples.
  decodeStep(codes) {
    return this.#stream().decodeStep(codes);
  }
  // Restarts the default stream (other streams are untouched).
  reset() {
    this.#default?.reset();
  }

  // A whole clip, zero-padded to whole frames -> {codes, codebooks, frames}.
  encode(pcm, codebooks = this.numCodebooks) {
    return unwrap(this.handle.encode(pcm, codebooks));
  }
  // A clip -> its latent before quantization, {data: Float32Array, shape: [1, dim, frames]}
  // (Kyutai's encode_to_latent): a voice for LmModel.createSpeaker. Options: seconds, Kyutai's
  // voice recipe (its voices take 10): the clip cut or zero-padded to exactly that first, at
  // least 1 s of audio; sampleRate, checked to be the codec's when given.
  encodeToLatent(pcm, options = {}) {
    return unwrap(this.handle.encodeToLatent(pcm, options));
  }
  // A voice latent {data, shape: [1, C, T]} as a kyutai/tts-voices file (safetensors
  // speaker_wavs F32 [1, C, T]), to save and give createSpeaker later.
  voiceFile(latent) {
    return unwrap(this.engine.module.voiceFile(latent));
  }
  // Codes [codebooks][frames] (codebooks = codes.length / frames) -> frames * frameSize samples.
  decode(codes, frames) {
    return unwrap(this.handle.decode(codes, frames));
  }

  // Frees the weights and every stream made from them.
  dispose() {
    for (const s of [...this.streams]) s.dispose();
    this.#default = null;
    super.dispose();
  }
}

// One stream through a shared Mimi: its own state (convolution tails, KV caches). Has the
// shape of a MimiCodec's streaming half, so MimiFrameTokenizer takes either.
export class MimiStream extends Disposable {
  constructor(codec, handle, codebooks) {
    super(handle);
    this.codec = codec;
    this.frameSize = codec.frameSize;
    this.numCodebooks = codebooks;
    this.codebooks = codebooks;
  }
  encodeStep(pcm) {
    return unwrap(this.handle.encodeStep(pcm));
  }
  decodeStep(codes) {
    return unwrap(this.handle.decodeStep(codes));
  }
  reset() {
    unwrap(this.handle.reset());
  }
  dispose() {
    this.codec.streams.delete(this);
    super.dispose();
  }
}
