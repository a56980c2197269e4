// Steppers: one stream of LM frames, on WebGPU or on WebAssembly, behind one interface the
// JS session loops (gpu_sessions.js) drive:
//
//   frame({tokens, forcedText?, teacher?, textSample?, audioSample?, depformer, vad, debug, rng?})
//     -> {textToken, audioTokens, vad, kvRows?, transformerOut?, textLogits?, depformerLogits?}
//
// textSample / audioSample turn logits into a token (null: argmax, done on the GPU there);
// teacher gives the Depformer's inputs instead of the sampled tokens (conformance tests).
import { KyutaiError, unwrap } from '../errors.js';
import { argmax } from './sampling.js';

// The model's configuration and weight directory for the GPU (wasm/bind_gpu.cpp).
export function gpuModelInfo(engine, lm) {
  if (typeof engine.module.gpuModelInfo !== 'function') {
    throw new KyutaiError('this build of the engine has no WebGPU binding (wasm/bind_gpu.cpp)', 'UNSUPPORTED');
  }
  return unwrap(engine.module.gpuModelInfo(lm.handle));
}

// LM steps on the WebAssembly engine, with a KV cache the GPU path mirrors into.
export class WasmStepper {
  constructor(engine, lm) {
    this.engine = engine;
    this.module = engine.module;
    this.config = lm.config;
    this.handle = new this.module.LmStepper();
    try {
      unwrap(this.handle.init(lm.handle));
      this.kvFloats = unwrap(this.handle.kvRowFloats());
    } catch (e) {
      this.handle.delete();
      throw e;
    }
    this.scratch = 0;
  }

  get backend() {
    return this.engine.backend;
  }

  frame(req) {
    const h = this.handle;
    const r = unwrap(h.step(req.tokens));
    const forced = req.forcedText !== undefined && req.forcedText !== null;
    const textToken = forced ? req.forcedText : req.textSample ? req.textSample(r.textLogits) : argmax(r.textLogits);
    const heads = this.config.extraHeads;
    const vad = req.vad && heads > 0 ? unwrap(h.extraHeads(r.transformerOut)) : new Float32Array(0);
    const Q = req.depformer ? this.config.depQ : 0;
    const audioTokens = new Int32Array(Q);
    const depformerLogits = req.debug ? new Float32Array(Q * this.config.card) : null;
    let input = req.teacher ? req.teacher[0] : textToken;
    for (let k = 0; k < Q; k++) {
      const logits = unwrap(h.depformerStep(k, input, r.transformerOut));
      depformerLogits?.set(logits, k * this.config.card);
      audioTokens[k] = req.audioSample ? req.audioSample(logits) : argmax(logits);
      input = req.teacher ? req.teacher[k + 1] : audioTokens[k];
    }
    const out = { textToken, audioTokens, vad };
    if (req.debug) Object.assign(out, { transformerOut: r.transformerOut, textLogits: r.textLogits, depformerLogits });
    return out;
  }

  // One position's K/V rows of every layer ([layer][k, v][kv_heads * head_dim]).
  appendKv(rows) {
    if (rows.length !== this.kvFloats) throw new KyutaiError(`K/V mirror: expected ${this.kvFloats} values, got ${rows.length}`, 'INTERNAL');
    const M = this.module;
    if (!this.scratch) {
      this.scratch = M._malloc(this.kvFloats * 4);
      if (!this.scratch) throw new KyutaiError('out of memory for the K/V mirror', 'OUT_OF_MEMORY');
    }
    M.HEAPU8.set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), this.scratch);
    unwrap(this.handle.appendKv(this.scratch));
  }

  get position() {
    return unwrap(this.handle.offset());
  }

  reset() {
    unwrap(this.handle.reset());
  }

  dispose() {
    if (this.scratch) this.module._free(this.scratch);
    this.scratch = 0;
    this.handle?.delete();
    this.handle = null;
  }
}

// LM steps on the GPU (lm_gpu.js), one KV cache per stepper.
export class GpuStepper {
  constructor(gpuLm) {
    this.lm = gpuLm;
    this.state = gpuLm.newState();
  }

  get backend() {
    return 'webgpu';
  }

  frame(req) {
    return this.lm.frame(this.state, req);
  }

  reset() {
    this.state.pos = 0;
  }

  dispose() {
    if (this.state) this.lm.destroyState(this.state);
    this.state = null;
  }
}

// The GPU while it works, WebAssembly from the first failure on. Each completed GPU frame's
// new K/V rows are appended to the WebAssembly stepper, so both hold the same stream state;
// a frame that fails on the GPU (device lost, any GPU error) is recomputed on WebAssembly
// from the state before it, with the random generator restored to where that frame began.
export class FailoverStepper {
  constructor(gpu, wasm, { onFallback } = {}) {
    this.gpu = gpu;
    this.wasm = wasm;
    this.onFallback = onFallback;
    this.fallbackReason = null;
  }

  get backend() {
    return this.gpu ? this.gpu.backend : this.wasm.backend;
  }

  async frame(req) {
    if (this.gpu) {
      const snapshot = req.rng?.save();
      try {
        const r = await this.gpu.frame(req);
        this.wasm?.appendKv(r.kvRows);
        return r;
      } catch (e) {
        if (!this.wasm) throw new KyutaiError(`WebGPU failed and the session keeps no WebAssembly mirror: ${e.message}`, 'INTERNAL');
        this.fallbackReason = e.message;
        this.gpu.dispose();
        this.gpu = null;
        if (snapshot) req.rng.restore(snapshot);
        this.onFallback?.(e.message);
      }
    }
    return this.wasm.frame(req);
  }

  reset() {
    this.gpu?.reset();
    this.wasm?.reset();
  }

  dispose() {
    this.gpu?.dispose();
    this.wasm?.dispose();
    this.gpu = null;
    this.wasm = null;
  }
}
