// Backend selection for a loaded LM: WebGPU where it works, WebAssembly SIMD otherwise.
//
//   backend 'wasm'    the engine's C++ sessions, as without this module.
//   backend 'auto'    WebGPU when the browser offers an adapter, the model's architecture is
//                     one the GPU forward implements, a self-test of every kernel the model
//                     needs (a tiny synthetic model of the same architecture and weight
//                     format, run on the GPU and on WebAssembly) agrees, and the upload
//                     succeeds; otherwise WebAssembly, with the reason.
//   backend 'webgpu'  the same, but a failure rejects loadModel (UNSUPPORTED) instead.
//
// The WebAssembly model is always loaded: the GPU uploads its weights from the heap, and it
// is where sessions continue when the device is lost (see steppers.js GpuSession).
import { KyutaiError, unwrap } from '../errors.js';
import { openGpu, requestGpuAdapter, GpuUnavailable, webgpuUnavailableReason } from './device.js';
import { GpuLm, unsupportedReason } from './lm_gpu.js';
import { GpuFrames, GpuSession, GpuSpeaker, gpuModelInfo, referenceFrames } from './steppers.js';

export const BACKENDS = ['auto', 'webgpu', 'wasm'];

// A small config with the same architecture options as `original` (a parsed config.json).
export function selfTestConfig(original, c) {
  const t = { ...original };
  const Q = c.depQ > 0 ? Math.min(c.depQ, 2) : 0;
  const users = c.nQ - c.depQ > 0 ? 1 : 0;
  const nQ = Q > 0 ? Q + users : Math.min(c.nQ, 3);
  Object.assign(t, { dim: 32, num_heads: 2, num_layers: 1, context: 4, text_card: 40, card: 16, n_q: nQ, dep_q: Q });
  t.delays = Q > 0 ? [c.delays[0], ...c.delays.slice(1, 1 + Q), ...(users ? [c.delays[1 + c.depQ]] : [])] : c.delays.slice(0, nQ + 1);
  if ('text_card_out' in t) t.text_card_out = original.text_card_out !== original.text_card ? 36 : 40;
  if ('kv_repeat' in t) t.kv_repeat = t.kv_repeat > 1 ? 2 : 1;
  t.existing_text_padding_id = 3;
  if ('existing_text_end_padding_id' in t) t.existing_text_end_padding_id = Math.min(t.existing_text_end_padding_id, 39);
  t.extra_heads_num_heads = Math.min(c.extraHeads, 2);
  if ('audio_emb_dim' in t) t.audio_emb_dim = 32;
  if (t.depformer_low_rank_embeddings) t.depformer_low_rank_embeddings = 8;
  Object.assign(t, { depformer_dim: 16, depformer_num_heads: 2, depformer_num_layers: 1 });
  if ('depformer_kv_repeat' in t) t.depformer_kv_repeat = t.depformer_kv_repeat > 1 ? 2 : 1;
  const schedule = Array.isArray(t.depformer_weights_per_step_schedule) && Q > 0 ? [0, 1].slice(0, Q) : null;
  if (schedule) t.depformer_weights_per_step_schedule = schedule;
  else delete t.depformer_weights_per_step_schedule;
  if (Array.isArray(t.depformer_dim_feedforward)) {
    const sets = schedule ? Math.max(...schedule) + 1 : t.depformer_weights_per_step ? Math.max(1, Q) : 1;
    t.depformer_dim_feedforward = Array.from({ length: sets }, (_, i) => (i % 2 ? 24 : 40));
  } else if ('depformer_dim_feedforward' in t) {
    t.depformer_dim_feedforward = 40;
  }
  return t;
}

function maxRelDiff(a, b) {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return a.length === b.length ? m : Infinity;
}

// Runs the GPU kernels on a tiny model of the same architecture and weight format and
// compares every output with the WebAssembly engine. Returns the largest relative difference.
async function selfTest(engine, gpu, info, configText, format) {
  const c = info.config;
  const tiny = selfTestConfig(JSON.parse(configText), c);
  const dtype = info.tensors.some((t) => t.format === 'bf16') ? 'BF16' : 'F32';
  const bytes = unwrap(engine.module.gpuSyntheticCheckpoint(JSON.stringify(tiny), dtype, 7));
  const lm = await engine.loadLm(tiny, bytes, { format, threads: 1 });
  let glm = null;
  let gpuState = null;
  try {
    const tinfo = gpuModelInfo(engine, lm);
    const unsupported = unsupportedReason(tinfo);
    if (unsupported) throw new Error(`the self-test model: ${unsupported}`);
    glm = await GpuLm.create(gpu, tinfo, () => engine.module.HEAPU8);
    const tc = tinfo.config;
    let seed = 12345;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const requests = Array.from({ length: 6 }, () => {
      const tokens = Int32Array.from({ length: tc.numCodebooks }, (_, k) => {
        if (rand(7) === 0) return -1;
        return k === 0 ? rand(tc.textCard + 1) : rand(tc.card + 1);
      });
      const teacher = Int32Array.from({ length: tc.depQ }, (_, k) => (k === 0 ? rand(tc.textCard + 1) : rand(tc.card + 1)));
      return { tokens, teacher, depformer: tc.depQ > 0, vad: true, debug: true };
    });
    const reference = referenceFrames(engine, lm, requests);
    gpuState = glm.newState(reference.conditions);  // a conditioned model: the reference's test condition
    let worst = 0;
    for (let t = 0; t < requests.length; t++) {
      const a = await glm.frame(gpuState, requests[t]);
      for (const key of ['transformerOut', 'textLogits', 'depformerLogits', 'vad']) worst = Math.max(worst, maxRelDiff(a[key], reference[t][key]));
    }
    const tolerance = 2e-3;
    if (!(worst <= tolerance)) throw new Error(`self-test: the GPU differs from WebAssembly by ${worst.toExponential(2)} (tolerance ${tolerance})`);
    return worst;
  } finally {
    if (gpuState) glm.destroyState(gpuState);
    glm?.destroy();
    lm.dispose();
  }
}

// Decides the backend of a loaded LM. Returns {gpu: GpuModel | null, backend, reason}.
export async function selectBackend({ engine, lm, configText, format, backend = 'auto', selfTest: runSelfTest = true }) {
  if (!BACKENDS.includes(backend)) {
    throw new KyutaiError(`backend: expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`, 'INVALID_ARGUMENT');
  }
  const wasm = (reason) => {
    if (backend === 'webgpu') throw new KyutaiError(`backend 'webgpu' is not usable: ${reason}`, 'UNSUPPORTED');
    return { gpu: null, backend: engine.backend, reason };
  };
  if (backend === 'wasm') return { gpu: null, backend: engine.backend, reason: "backend 'wasm' was requested" };
  const unavailable = webgpuUnavailableReason();
  if (unavailable) return wasm(unavailable);
  let adapter;
  try {
    adapter = await requestGpuAdapter();
  } catch (e) {
    return wasm(e.message);
  }
  let info;
  try {
    info = gpuModelInfo(engine, lm);
  } catch (e) {
    return wasm(e.message);
  }
  const unsupported = unsupportedReason(info);
  if (unsupported) return wasm(unsupported);
  let gpu;
  try {
    gpu = await openGpu(adapter);
  } catch (e) {
    return wasm(e instanceof GpuUnavailable ? e.message : `opening WebGPU failed: ${e.message}`);
  }
  try {
    const diff = runSelfTest ? await selfTest(engine, gpu, info, configText, format) : null;
    const glm = await GpuLm.create(gpu, info, () => engine.module.HEAPU8);
    const model = new GpuModel(engine, lm, gpu, glm);
    const software = gpu.info.isFallbackAdapter || /swiftshader/i.test(gpu.name);
    const reason = `WebGPU on ${gpu.name}${software ? ' (a software adapter: correct but slow)' : ''}` +
      (diff === null ? '' : `; kernel self-test max relative difference ${diff.toExponential(1)}`);
    return { gpu: model, backend: 'webgpu', reason };
  } catch (e) {
    gpu.destroy();
    return wasm(e.message);
  }
}

// A loaded LM on the GPU: makes sessions, notices a lost device.
export class GpuModel {
  constructor(engine, lm, gpu, glm) {
    this.engine = engine;
    this.lm = lm;
    this.gpu = gpu;
    this.glm = glm;
    this.config = glm.config;
    this.failure = null;
    gpu.onLost((reason) => {
      this.failure ??= reason;
    });
  }

  get active() {
    return !this.failure && !this.gpu.lost;
  }

  // A lost device is named as such even when a frame's read-back failed first.
  get reason() {
    return this.gpu.lostReason ?? this.failure;
  }

  // kind: 'asr' | 'tts' | 'duplex': the engine's C++ session of that kind, stepped on the GPU.
  // options.mimi (a MimiCodec, duplex only) makes it the PCM-to-PCM pipeline (pushAudio).
  // options.mirror (default true) keeps the WebAssembly K/V mirror that lets the session
  // survive a lost device.
  createSession(kind, options = {}) {
    const { mimi, mirror, ...rest } = options ?? {};
    const make = {
      asr: () => [this.lm.createAsrSession(rest), 'pushFrame'],
      tts: () => [this.lm.createTtsSession(rest), 'pushText'],
      duplex: () => (mimi ? [this.lm.createDuplexPipeline({ mimi, ...rest }), 'step'] : [this.lm.createDuplexSession(rest), 'pushFrame']),
    }[kind];
    if (!make) throw new KyutaiError(`unknown session kind '${kind}' (asr, tts, duplex)`, 'INVALID_ARGUMENT');
    const [session, local] = make();
    let gpu;
    try {
      gpu = new GpuFrames(this.glm);
    } catch (e) {
      session.dispose();
      throw e;
    }
    return new GpuSession(session, gpu, {
      local,
      wasmBackend: this.engine.backend,
      mirror: mirror !== false,
      onFallback: (reason) => {
        this.failure ??= reason;
      },
    });
  }

  // Kyutai's TTS speaker (lm.js createSpeaker's options, plus mirror as above) on the GPU:
  // the engine's C++ speaker, its conditions uploaded once. Real CFG (a model without the
  // `cfg` LUT and cfg != 1) stays on WebAssembly, with the reason in fallbackReason.
  async createSpeaker(options = {}) {
    const { mirror, ...rest } = options ?? {};
    const speaker = await this.lm.createSpeaker(rest);
    const common = { wasmBackend: this.engine.backend, mirror: mirror !== false, onFallback: (reason) => (this.failure ??= reason) };
    if (!speaker.staged) {
      const reason = 'real CFG (a null-condition stream beside the conditioned one, its Depformer logits mixed) runs on WebAssembly';
      return new GpuSpeaker(speaker, null, { ...common, reason });
    }
    let gpu;
    try {
      gpu = new GpuFrames(this.glm, speaker.conditions());
    } catch (e) {
      speaker.dispose();
      throw e;
    }
    return new GpuSpeaker(speaker, gpu, common);
  }

  // Test hook: destroys the device as a driver reset would.
  loseDevice() {
    this.gpu.device.destroy();
  }

  dispose() {
    this.glm.destroy();
    this.gpu.destroy();
  }
}
