// The low-level model API (`kyutai-wasm/engine`): a loaded LM's teacher-forced forward passes
// and a step-by-step stepper, on Kyutai's tensor layouts. Every tensor in and out is
// {data, shape} with a row-major flat `data`; token streams are ordered as Kyutai's: the
// text stream first, then the audio codebooks. Types: web/types/engine.d.ts.
import { KyutaiError, unwrap } from './errors.js';
import { Disposable } from './disposable.js';
import { toMultistream } from './tokens.js';
import { AsrSession, TtsSession, DuplexSession, Transcriber, DuplexPipeline, Generator, Speaker, withHeapBytes } from './engine-sessions.js';
import { readAll } from './sources.js';
import { Tokenizer } from './codec.js';

const tensor = (data, shape) => ({ data, shape });

// A voice given as a latent {data, shape} rather than file bytes or a URL.
const isVoiceLatent = (voice) => typeof voice === 'object' && voice.shape !== undefined && voice.data !== undefined;

// [B, K, T] pre-delay codes (flat, stream-major within each batch item) -> the binding's
// {text, audio: [...]} with one [B, T] tensor per stream. K is 1 + the model's nQ.
function codesToStreams(codes, shape, config) {
  const K = 1 + config.nQ;
  if (!(codes instanceof Int32Array) && !Array.isArray(codes)) {
    throw new KyutaiError(`codes: expected an Int32Array (or number[]) of shape [B, ${K}, T], got ${codes?.constructor?.name ?? codes}`, 'INVALID_ARGUMENT');
  }
  const valid = Array.isArray(shape) && shape.length === 3 && shape.every((n) => Number.isInteger(n) && n >= 0);
  if (!valid || shape[0] < 1 || shape[1] !== K || shape[0] * shape[1] * shape[2] !== codes.length) {
    throw new KyutaiError(`codes: shape must be [B >= 1, ${K} (text + ${config.nQ} audio codebooks), T] matching ${codes.length} values, got ${JSON.stringify(shape)}`, 'INVALID_ARGUMENT');
  }
  const [B, , T] = shape;
  const stream = (k) => {
    const data = new Int32Array(B * T);
    for (let b = 0; b < B; b++) data.set(codes.slice((b * K + k) * T, (b * K + k + 1) * T), b * T);
    return { data, shape: [B, T] };
  };
  return { text: stream(0), audio: Array.from({ length: K - 1 }, (_, k) => stream(k + 1)) };
}

// The input of an embedding-level call: Kyutai's {text, audio: [stream | null, ...]}, any
// stream absent (Vec<Option<Tensor>>), each an Int32Array (one batch item) or {data, shape [B, T]}.
function streamsInput(input) {
  try {
    return toMultistream(input);
  } catch (e) {
    throw new KyutaiError(e.message, 'INVALID_ARGUMENT');
  }
}

export class LmModel extends Disposable {
  constructor(engine, handle) {
    super(handle);
    this.engine = engine;
    this.config = unwrap(handle.config());
    this.sessions = new Set();
  }
  weightBytes() {
    return unwrap(this.handle.weightBytes());
  }
  // Weight bytes one streaming frame reads (every matrix; tables are only gathered): the
  // numerator of the memory-bandwidth floor of a frame.
  bytesReadPerFrame() {
    return unwrap(this.handle.bytesReadPerFrame());
  }
  // The loaded weights as a safetensors file in their final format (q8/q4 as I8/U8 +
  // weight_scale, tables bf16, vectors f32), which loadLm reads back without conversion.
  // onChunk(Uint8Array) is called synchronously, piece by piece; each view is valid only
  // during its call (it points into the heap). Returns the number of bytes.
  exportWeights(onChunk) {
    return unwrap(this.handle.exportWeights(onChunk));
  }
  // 'f32' or 'bf16': the KV cache rows of the sessions this model makes (loadLm's kvCache).
  kvCache() {
    return unwrap(this.handle.kvCache());
  }
  // Threads the model's kernels run on (the caller included; 1 in the single-threaded build).
  threads() {
    return unwrap(this.handle.threads());
  }

  // Kyutai's embedding sum of text + audio tokens (streams as for forwardAsr):
  // {data, shape: [B, T, dim]}; `values` is the same array (the older name).
  embeddingSum(input) {
    const r = unwrap(this.handle.embeddingSum(streamsInput(input)));
    return { data: r.values, shape: r.shape, values: r.values };
  }
  // The fused transformer input under the configured strategy (with positional terms):
  // {values, mask, shape: [B, T, dim]}.
  fuse(input, offset = 0) {
    return unwrap(this.handle.fuse(streamsInput(input), offset));
  }

  // Kyutai's LMModel.forward (teacher forcing) on pre-delay codes [B, K, T], K = 1 + nQ (text
  // stream first): the delays are applied inside. textLogits [B, 1, T, textCardOut] and
  // audioLogits [B, depQ, T, card] are in the step (delayed) domain; logits and mask are
  // LMOutput's (undelayed, NaN where invalid); transformerOut [B, T, dim].
  forward(codes, shape) {
    const { depQ, card, dim, textCardOut } = this.config;
    const r = unwrap(this.handle.forward(codesToStreams(codes, shape, this.config)));
    const [B, , T] = shape;
    return {
      textLogits: tensor(r.textLogits, [B, 1, T, textCardOut]),
      audioLogits: tensor(r.audioLogits, [B, depQ, T, card]),
      logits: tensor(r.logits, [B, depQ, T, card]),
      mask: tensor(r.mask, [B, depQ, T]),
      textMask: tensor(r.textMask, [B, 1, T]),
      transformerOut: tensor(r.transformerOut, [B, T, dim]),
    };
  }

  // Kyutai's LMModel.forward_text on post-delay streams, any of them absent: {text, audio:
  // [stream | null, ...]} with the configured fusion -> textLogits [B, 1, T, textCardOut],
  // transformerOut and embeddingSum [B, T, dim], extraHeads [heads, B, T, extraHeadsDim]
  // (softmax probabilities of the VAD heads; empty when the model has none).
  forwardAsr(input) {
    const r = unwrap(this.handle.forwardText(streamsInput(input)));
    const { dim, textCardOut, extraHeads, extraHeadsDim } = this.config;
    const B = r.batch;
    const T = r.time;
    return {
      textLogits: tensor(r.textLogits, [B, 1, T, textCardOut]),
      transformerOut: tensor(r.transformerOut, [B, T, dim]),
      embeddingSum: tensor(r.embeddingSum, [B, T, dim]),
      extraHeads: tensor(r.extraHeadsProbs, [extraHeads, B, T, extraHeadsDim]),
    };
  }

  // One stream of raw LM steps for streaming with teacher forcing (see LmStepper).
  createStepper() {
    return this.#session('LmStepper', LmStepper, null, (handle) => handle.init(this.handle));
  }

  #withText(session, options) {
    if (!options?.tokenizer) return session;
    try {
      session.setTokenizer(options.tokenizer);
    } catch (e) {
      session.dispose();
      throw e;
    }
    return session;
  }

  // A new binding object `Kind`, initialised (by default with init(model, options)) and
  // wrapped with what init returned; a failed init frees it.
  #session(Kind, Wrapper, options, init = (handle) => handle.init(this.handle, options ?? {})) {
    const handle = new this.engine.module[Kind]();
    let initialised;
    try {
      initialised = unwrap(init(handle));
    } catch (e) {
      handle.delete();
      throw e;
    }
    const session = new Wrapper(this, handle, initialised);
    this.sessions.add(session);
    return session;
  }
  // options.tokenizer (a Tokenizer of engine.loadTokenizer): the words of every result come
  // with their text.
  createAsrSession(options) {
    return this.#withText(this.#session('AsrSession', AsrSession, options), options);
  }
  createTtsSession(options) {
    return this.#withText(this.#session('TtsSession', TtsSession, options), options);
  }
  createDuplexSession(options) {
    return this.#withText(this.#session('DuplexSession', DuplexSession, options), options);
  }
  // Kyutai's TTS in one voice (wasm/bind_tts.cpp). voice: a latent {data: Float32Array, shape:
  // [1, C, T]} (MimiCodec.encodeToLatent: a voice from a recording) or the bytes/URL of a
  // kyutai/tts-voices file; tokenizer: a Tokenizer (engine.loadTokenizer; shared, not copied)
  // or the bytes/URL of the model's tokenizer.model; mimi: a MimiCodec for PCM (omitted: codes
  // only). Options: cfg (2), nQ, sampling, temperature, seed, maxGenLength.
  async createSpeaker({ voice, tokenizer, mimi, ...options } = {}) {
    if (voice == null) throw new KyutaiError('createSpeaker needs options.voice: a latent {data, shape: [1, C, T]} or the bytes or URL of a kyutai/tts-voices file', 'INVALID_ARGUMENT');
    if (tokenizer == null) throw new KyutaiError('createSpeaker needs options.tokenizer: a Tokenizer or the bytes or URL of the model\'s tokenizer.model', 'INVALID_ARGUMENT');
    if (mimi != null && !mimi.handle) throw new KyutaiError('createSpeaker: options.mimi must be a MimiCodec', 'INVALID_ARGUMENT');
    const latent = isVoiceLatent(voice) ? voice : this.#readVoice(await readAll(voice));
    const shared = tokenizer instanceof Tokenizer;
    const text = shared ? tokenizer : await this.engine.loadTokenizer(tokenizer);
    try {
      return this.#session('TtsSpeaker', Speaker, options,
        (handle) => handle.init(this.handle, mimi?.handle ?? null, latent, text.handle, options));
    } finally {
      if (!shared) text.dispose();  // the speaker holds the model itself
    }
  }
  // A kyutai/tts-voices file's bytes -> its latent {data, shape: [1, C, T]}.
  #readVoice(bytes) {
    const module = this.engine.module;
    return unwrap(withHeapBytes(module, bytes, (ptr, size) => module.loadVoice(ptr, size)));
  }
  createGenerator(options) {
    return this.#session('LmGen', Generator, options);
  }
  // Full duplex from PCM to PCM through `mimi` (a MimiCodec), one engine call per frame
  // (src/session/duplex_pipeline.h). Options as createDuplexSession.
  createDuplexPipeline({ mimi, ...options } = {}) {
    if (!mimi?.handle) throw new KyutaiError('createDuplexPipeline needs a Mimi codec (options.mimi)', 'INVALID_ARGUMENT');
    const pipeline = this.#session('DuplexPipeline', DuplexPipeline, options, (handle) => handle.init(this.handle, mimi.handle, options));
    return this.#withText(pipeline, options);
  }
  // Speech-to-text as Kyutai's STT server does it (src/session/transcriber.h): audio frames
  // through `mimi` (a MimiCodec) or token frames when it is omitted. Options: vadHead (2),
  // endOfTurnThreshold (0.5), temperature, seed, silenceCodes (token frames only), tokenizer
  // (as the sessions': words come with their text).
  createTranscriber({ mimi, ...options } = {}) {
    const transcriber = this.#session('Transcriber', Transcriber, options,
      mimi ? (handle) => handle.initWithCodec(this.handle, mimi.handle, options) : undefined);
    return this.#withText(transcriber, options);
  }
  // Disposes the model and every session created from it.
  dispose() {
    for (const s of this.sessions) s.dispose();
    this.sessions.clear();
    super.dispose();
  }
}

// Raw LM steps with a KV cache of their own (Kyutai's LMModel streaming forward, as LMGen
// drives it): step(tokens) takes one time step's K post-delay tokens (text first; -1: none)
// and gives the temporal transformer's output and text logits; depformerStep(k, token) then
// runs Depformer position k on that output with `token` as its input (the text token for
// k = 0, audio codebook k - 1 after), so a caller forces every token it likes.
export class LmStepper extends Disposable {
  #last = null;  // the transformer output of the latest step

  constructor(model, handle) {
    super(handle);
    this.model = model;
    this.config = model.config;
  }

  // tokens [K = 1 + nQ] -> {textLogits [textCardOut], transformerOut [dim]}.
  step(tokens) {
    const r = unwrap(this.handle.step(tokens));
    this.#last = r.transformerOut;
    return {
      textLogits: tensor(r.textLogits, [this.config.textCardOut]),
      transformerOut: tensor(r.transformerOut, [this.config.dim]),
    };
  }

  #transformerOut(what) {
    if (!this.#last) throw new KyutaiError(`${what} needs a step first: call step(tokens)`, 'INVALID_STATE');
    return this.#last;
  }

  // Depformer position k (0 .. depQ - 1; 0 starts this time step) on the latest step's output
  // -> logits [card] of audio codebook k.
  depformerStep(k, token) {
    const { depQ, card } = this.config;
    if (!Number.isInteger(k) || k < 0 || k >= depQ) {
      throw new KyutaiError(`depformerStep: k must be an integer in [0, ${depQ - 1}] (the model's depQ = ${depQ}), got ${k}`, 'INVALID_ARGUMENT');
    }
    if (!Number.isInteger(token)) throw new KyutaiError(`depformerStep: token must be an integer, got ${token}`, 'INVALID_ARGUMENT');
    return tensor(unwrap(this.handle.depformerStep(k, token, this.#transformerOut('depformerStep'))), [card]);
  }

  // The VAD heads' probabilities for the latest step: [extraHeads, extraHeadsDim].
  extraHeads() {
    const { extraHeads, extraHeadsDim } = this.config;
    return tensor(unwrap(this.handle.extraHeads(this.#transformerOut('extraHeads'))), [extraHeads, extraHeadsDim]);
  }

  // Time steps taken since the start (or the last reset).
  get position() {
    return unwrap(this.handle.offset());
  }

  reset() {
    unwrap(this.handle.reset());
    this.#last = null;
  }

  dispose() {
    this.model.sessions.delete(this);
    super.dispose();
  }
}
