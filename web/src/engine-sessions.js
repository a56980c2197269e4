// The engine's session classes (kyutai-wasm/engine, re-exported by engine.js): thin wrappers
// over the Embind classes of wasm/bind_sessions.cpp, bind_stt.cpp and bind_tts.cpp, made by
// LmModel (lm.js). Every method is synchronous; errors come out as KyutaiError.
import { KyutaiError, unwrap } from './errors.js';
import { Disposable } from './disposable.js';

// Copies bytes onto the WebAssembly heap for the duration of `use(ptr, size)`.
export function withHeapBytes(module, bytes, use) {
  const ptr = module._malloc(Math.max(1, bytes.length)) >>> 0;  // past 2 GiB the i32 reads negative
  if (!ptr) throw new KyutaiError('out of memory copying input bytes', 'OUT_OF_MEMORY');
  try {
    module.HEAPU8.set(bytes, ptr);
    return use(ptr, bytes.length);
  } finally {
    module._free(ptr);
  }
}

class Session extends Disposable {
  constructor(model, handle) {
    super(handle);
    this.model = model;
  }
  reset() {
    unwrap(this.handle.reset());
  }
  // Every step's result carries the session's words (Kyutai's rule, in the engine): `words`
  // [{tokens, text, start, end}] completed at this step (end null until known) and `ended`, a
  // word of an earlier step with the end this step fixed (or null). flush() gives the last
  // words at the end of the input. `text` is null unless setTokenizer gave the model's
  // SentencePiece (engine.loadTokenizer).
  flush() {
    return unwrap(this.handle.flush());
  }
  setTokenizer(tokenizer) {
    unwrap(this.handle.setTokenizer(tokenizer.handle));
  }
  // The stages of one step around a forward that runs elsewhere (WebGPU; wasm/bind_sessions.cpp):
  // begin(input) -> {tokens, forcedText, sampleText, sampleAudio, depformer, vad}; the forward
  // hands sampleText(logits) / sampleAudio(k, logits) its logits when asked and feeds back the
  // token; finish({textToken, audioTokens, vad, kvRows}) -> the step's result; runLocal() runs
  // the open step on WebAssembly instead (the redo of a failed remote one).
  begin(input) {
    return unwrap(this.handle.begin(input));
  }
  sampleText(logits) {
    return unwrap(this.handle.sampleText(logits));
  }
  sampleAudio(k, logits) {
    return unwrap(this.handle.sampleAudio(k, logits));
  }
  finish(reply) {
    return unwrap(this.handle.finish(reply));
  }
  runLocal() {
    return unwrap(this.handle.runLocal());
  }
  // Floats of one position's K/V rows (the WebAssembly mirror of a remote forward).
  kvRowFloats() {
    return unwrap(this.handle.kvRowFloats());
  }
  dispose() {
    this.model.sessions.delete(this);
    super.dispose();
  }
}

export class AsrSession extends Session {
  // codes: the n_q audio codes of one frame -> {step, textToken, isPadding, vad, words, ended}
  pushFrame(codes) {
    return unwrap(this.handle.pushFrame(codes));
  }
}

export class TtsSession extends Session {
  // One text token (or -1) per frame -> {step, textToken, audio: Int32Array | null, frameText, words, ended}
  pushText(token) {
    return unwrap(this.handle.pushText(token));
  }
}

export class DuplexSession extends Session {
  pushFrame(codes) {
    return unwrap(this.handle.pushFrame(codes));
  }
}

// Events: {type: 'word', tokens, text, start, end} (whole, once its end is known; text null
// unless setTokenizer gave the model's SentencePiece), {type: 'vad', time, pause:
// Float32Array}, {type: 'endOfTurn', time, probability}; times in seconds of the input audio,
// `step` the ASR step that produced the event.
export class Transcriber extends Session {
  pushAudio(samples) {
    return this.pushAudioFrame(samples).events;
  }
  pushCodes(codes) {
    return this.pushCodesFrame(codes).events;
  }
  // One frame's whole result: {step, textToken, codes (what the last step read), events}.
  pushAudioFrame(samples) {
    return unwrap(this.handle.pushAudio(samples));
  }
  pushCodesFrame(codes) {
    return unwrap(this.handle.pushCodes(codes));
  }
  // Feeds the model's delay + 1 s of silence and closes the last word.
  flush() {
    return unwrap(this.handle.flush());
  }
  info() {
    return unwrap(this.handle.info());
  }
}

// PCM -> Mimi -> full-duplex step -> Mimi -> PCM, one call per frame:
// step(pcm) -> {step, textToken, codes (the user's), audio, frameText, pcm, words, ended}.
export class DuplexPipeline extends Session {
  step(pcm) {
    return unwrap(this.handle.step(pcm));
  }
  // A frame of the user's codes (n_q - dep_q) instead of audio; beginCodes is its first stage.
  stepCodes(codes) {
    return unwrap(this.handle.stepCodes(codes));
  }
  beginCodes(codes) {
    return unwrap(this.handle.beginCodes(codes));
  }
  // The interface of the host's sessions: audio or codes in.
  pushAudio(pcm) {
    return this.step(pcm);
  }
  pushFrame(codes) {
    return this.stepCodes(codes);
  }
  get frameSize() {
    return unwrap(this.handle.frameSize());
  }
}

export class Generator extends Session {
  step(userCodes) {
    return unwrap(this.handle.step(userCodes));
  }
  reset() {
    throw new KyutaiError('create a new generator to restart', 'UNSUPPORTED');
  }
}

// Chunks {pcm, words, step} while a speaker's steps can run: all of `text` (then end()) when
// given, else until more text is needed (pushText then iterate again) or the speech has ended.
// For the engine's speaker and the GPU one (webgpu/steppers.js), whose calls return promises.
export async function* speakChunks(speaker, text) {
  if (text !== undefined) {
    await speaker.pushText(text);
    await speaker.end();
  }
  while (speaker.running && speaker.ready) {
    const { step, pcm, words } = await speaker.step();
    if (pcm || words.length) yield { pcm, words, step };
  }
}

// Kyutai's TTS for one voice (src/session/tts_speaker.h): text in, whole or word by word (from
// an LLM), one frame per step(): {step, frame: Int32Array | null, pcm: Float32Array | null,
// words: [{text, step, time}]}; `time` in seconds of the speaker's PCM.
export class Speaker extends Session {
  constructor(model, handle, info) {
    super(model, handle);
    this.delaySteps = info.delaySteps;
    this.sampleRate = info.sampleRate;
    this.frameSize = info.frameSize;
    this.frameRate = info.frameRate;
  }
  // Words are complete once whitespace follows them (or end() is called).
  pushText(text) {
    if (typeof text !== 'string') throw new KyutaiError(`pushText: expected a string, got ${typeof text}`, 'INVALID_ARGUMENT');
    return unwrap(this.handle.pushText(text));
  }
  end() {
    unwrap(this.handle.end());
  }
  // Whether step() may run now (false: waiting for more text or end()).
  get ready() {
    return unwrap(this.handle.ready());
  }
  // False once the generation has finished.
  get running() {
    return unwrap(this.handle.running());
  }
  step() {
    return unwrap(this.handle.step());
  }
  // The staged step (see Session): no input, the speaker's text is already queued.
  begin() {
    return unwrap(this.handle.begin());
  }
  // Whether the step can be staged around a remote forward (false with real CFG).
  get staged() {
    return unwrap(this.handle.staged());
  }
  // The stream's condition sum and cross-attention keys/values (what a GPU forward uploads).
  conditions() {
    return unwrap(this.handle.conditions());
  }
  speak(text) {
    return speakChunks(this, text);
  }
  reset() {
    throw new KyutaiError('create a new speaker to restart', 'UNSUPPORTED');
  }
}
