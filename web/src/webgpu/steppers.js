// The GPU path of a session: the engine's C++ session (src/session/, staged as in
// src/lm/forward.h) owns every rule (alignment, delays, sampling with its generator, words);
// this drives its stages around the GPU forward (lm_gpu.js):
//
//   request = session.begin(input)          one Embind call
//   reply   = await gpu forward(request)    sampled steps call session.sampleText / sampleAudio
//   result  = session.finish(reply)         one Embind call; reply.kvRows feed the mirror
//
// The session's own LmState is the WebAssembly mirror: each GPU frame's new K/V rows are
// appended to it, so when a GPU frame fails (device lost, any GPU error) the session redoes
// that frame with session.runLocal() from the state before it, its generator rewound, and
// runs on WebAssembly from then on.
import { KyutaiError, unwrap } from '../errors.js';
import { speakChunks } from '../engine-sessions.js';

// The model's configuration and weight directory for the GPU (wasm/bind_gpu.cpp).
export function gpuModelInfo(engine, lm) {
  if (typeof engine.module.gpuModelInfo !== 'function') {
    throw new KyutaiError('this build of the engine has no WebGPU binding (wasm/bind_gpu.cpp)', 'UNSUPPORTED');
  }
  return unwrap(engine.module.gpuModelInfo(lm.handle));
}

// The WebAssembly forward of teacher-forced frames from a fresh state (the self-test's and the
// conformance tests' reference): frames [{tokens, teacher}] -> per frame {transformerOut,
// textLogits, depformerLogits, vad}; for a conditioned model (Kyutai's TTS) under a fixed test
// condition, which the array's `conditions` holds for the GPU stream (GpuLm.newState).
export function referenceFrames(engine, lm, frames) {
  const c = lm.config;
  const K = c.nQ + 1;
  const Q = c.depQ;
  const H = c.extraHeads * c.extraHeadsDim;
  const tokens = new Int32Array(frames.length * K);
  const teacher = new Int32Array(frames.length * Q);
  frames.forEach((f, t) => {
    tokens.set(f.tokens, t * K);
    if (Q) teacher.set(f.teacher.subarray(0, Q), t * Q);
  });
  const r = unwrap(engine.module.gpuReferenceFrames(lm.handle, tokens, teacher));
  const slice = (a, n, t) => a.subarray(t * n, (t + 1) * n);
  const out = frames.map((_, t) => ({
    transformerOut: slice(r.transformerOut, c.dim, t),
    textLogits: slice(r.textLogits, c.textCardOut, t),
    depformerLogits: slice(r.depformerLogits, Q * c.card, t),
    vad: slice(r.vad, H, t),
  }));
  out.conditions = r.conditions;
  return out;
}

// One stream of GPU frames (its own KV cache on the device; a conditioned model's stream
// also its conditions, as GpuLm.newState takes them).
export class GpuFrames {
  constructor(gpuLm, conditions = null) {
    this.lm = gpuLm;
    this.state = gpuLm.newState(conditions);
  }

  // A raw frame (lm_gpu.js GpuLm.frame: teacher tokens, debug outputs): the conformance tests.
  frame(req) {
    return this.lm.frame(this.state, req);
  }

  // The forward of a session's request; the session samples what the request says it samples.
  async run(session, request) {
    const r = await this.lm.frame(this.state, {
      tokens: request.tokens,
      forcedText: request.forcedText ?? undefined,
      textSample: request.sampleText ? (logits) => session.sampleText(logits) : null,
      audioSample: request.sampleAudio ? (logits, k) => session.sampleAudio(k, logits) : null,
      depformer: request.depformer,
      codebooks: request.codebooks,
      vad: request.vad,
    });
    return { textToken: r.textToken, audioTokens: r.audioTokens, vad: request.vad ? r.vad : null, kvRows: r.kvRows };
  }

  reset() {
    this.state.pos = 0;
  }

  dispose() {
    if (this.state) this.lm.destroyState(this.state);
    this.state = null;
  }
}

// Calls on one session run one after the other, in call order.
class Serial {
  #tail = Promise.resolve();
  run(fn) {
    const r = this.#tail.then(fn);
    this.#tail = r.catch(() => {});
    return r;
  }
}

// A C++ session (engine.js AsrSession, TtsSession, DuplexSession, DuplexPipeline, Speaker)
// stepped on the GPU while it works, on WebAssembly from the first failure on. `local` names
// the session's one-call step ('pushFrame', 'pushText', 'step'); results are the session's plus
// `backend`, where the frame ran. mirror: false drops the K/V mirror (no failover). gpu null
// with a `reason`: a session that runs on WebAssembly from the start, saying why.
export class GpuSession {
  #serial = new Serial();

  constructor(session, gpu, { local, wasmBackend, mirror = true, onFallback, reason = null } = {}) {
    this.session = session;
    this.gpu = gpu;
    this.local = local;
    this.wasmBackend = wasmBackend;
    this.mirror = mirror;
    this.onFallback = onFallback;
    this.fallbackReason = reason;
  }

  get backend() {
    return this.gpu ? 'webgpu' : this.wasmBackend;
  }

  // Runs fn after the calls already made on this session.
  serially(fn) {
    return this.#serial.run(fn);
  }

  // stages: the session's one-call step and first stage for this input ('begin' by default).
  step(input, { local = this.local, begin = 'begin' } = {}) {
    return this.#serial.run(() => this.#step(input, local, begin));
  }

  async #step(input, local, begin) {
    if (!this.gpu) return { ...this.session[local](input), backend: this.wasmBackend };
    const request = this.session[begin](input);  // validates: a bad input changes nothing
    let reply;
    try {
      reply = await this.gpu.run(this.session, request);
    } catch (e) {
      return this.#fallBack(e);
    }
    if (!this.mirror) reply.kvRows = null;
    return { ...this.session.finish(reply), backend: 'webgpu' };
  }

  // The failed frame again on WebAssembly, from the mirror and the generator at its start.
  #fallBack(error) {
    this.fallbackReason = error.message;
    this.gpu.dispose();
    this.gpu = null;
    this.onFallback?.(error.message);
    if (!this.mirror) throw new KyutaiError(`WebGPU failed and the session keeps no WebAssembly mirror: ${error.message}`, 'INTERNAL');
    return { ...this.session.runLocal(), backend: this.wasmBackend };
  }

  // A pipeline (audio in) also takes the user's codes.
  pushFrame(codes) {
    return this.local === 'step' ? this.step(codes, { local: 'stepCodes', begin: 'beginCodes' }) : this.step(codes);
  }

  pushText(token) {
    return this.step(token);
  }

  pushAudio(pcm) {
    return this.step(pcm);
  }

  flush() {
    return this.#serial.run(() => this.session.flush());
  }

  reset() {
    return this.#serial.run(() => {
      this.session.reset();
      this.gpu?.reset();
    });
  }

  // After the frames already asked for (their GPU buffers stay alive until then).
  dispose() {
    return this.#serial.run(() => {
      this.gpu?.dispose();
      this.gpu = null;
      this.session.dispose();
    });
  }
}

// Kyutai's TTS speaker (engine.js Speaker) stepped on the GPU: the engine's C++ speaker keeps
// every TTS rule (state machine, delays, masking, Mimi, words) and the GPU runs the forward of
// each step. Its calls return promises and run in call order with the steps (text pushed while
// a step is on the GPU must wait: a failed step is redone from the state it began with).
export class GpuSpeaker extends GpuSession {
  constructor(speaker, gpu, options) {
    super(speaker, gpu, { ...options, local: 'step' });
    for (const key of ['delaySteps', 'sampleRate', 'frameSize', 'frameRate']) this[key] = speaker[key];
  }

  pushText(text) {
    return this.serially(() => this.session.pushText(text));
  }

  end() {
    return this.serially(() => this.session.end());
  }

  get ready() {
    return this.session.ready;
  }

  get running() {
    return this.session.running;
  }

  speak(text) {
    return speakChunks(this, text);
  }
}
