// WGSL compute kernels of the WebGPU backend and their pipelines (one set per device). The
// sources live by family: kernels_matvec.js (matrix-vector products per weight format),
// kernels_attention.js (RoPE, KV-cache write, attention), kernels_elementwise.js (embeddings,
// norms, gate, softmax, argmax, add).
//
// Every kernel reads its sizes from a small uniform block (padded to 16-byte multiples) and,
// where a value changes from frame to frame (the KV-cache slot, the number of visible keys,
// which sampled tokens feed the Depformer), from the `frame` storage buffer that JS rewrites
// before each submit.
import { MATVEC_F32, MATVEC_BF16, MATVEC_Q8, MATVEC_Q4, MATVEC_Q4_BYTES } from './kernels_matvec.js';
import { ROPE_WRITE, ATTENTION } from './kernels_attention.js';
import { GATHER, NORM, GATE, SOFTMAX, ARGMAX, ADD } from './kernels_elementwise.js';

// Frame buffer (u32): [0] keys visible to the main attention, [1] main KV-cache slot,
// [2] flags: bit 0 = text argmax feeds the Depformer, bit 1 = audio argmax feeds the next
// Depformer position.
export const FRAME_WORDS = 4;
export const FLAG_TEXT_CHAIN = 1;
export const FLAG_AUDIO_CHAIN = 2;

// Activation ids (gate kernel); "none" gating is a plain GELU MLP.
export const ACTIVATIONS = ['gelu', 'silu', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'mish', 'softsign', 'identity'];

export const SOURCES = {
  matvec_f32: MATVEC_F32,
  matvec_bf16: MATVEC_BF16,
  matvec_q8: MATVEC_Q8,
  matvec_q4: MATVEC_Q4,
  matvec_q4_bytes: MATVEC_Q4_BYTES,
  gather: GATHER,
  norm: NORM,
  rope_write: ROPE_WRITE,
  attention: ATTENTION,
  gate: GATE,
  softmax: SOFTMAX,
  argmax: ARGMAX,
  add: ADD,
};

// Compiles every kernel once per device (asynchronously, so a slow compiler does not block).
export async function createPipelines(device) {
  const entries = await Promise.all(Object.entries(SOURCES).map(async ([name, code]) => {
    const module = device.createShaderModule({ label: `kyutai ${name}`, code });
    const pipeline = await device.createComputePipelineAsync({ label: `kyutai ${name}`, layout: 'auto', compute: { module, entryPoint: 'main' } });
    return [name, pipeline];
  }));
  return Object.fromEntries(entries);
}
