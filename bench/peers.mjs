// The same GEMV (y = x W, batch 1, single thread) through onnxruntime-web and
// tfjs-backend-wasm in Node, cold (cycling through > 1.1 GB of weight copies, so every call
// reads from DRAM as a real frame does) or hot (one copy).
import { createRequire } from 'node:module';
import path from 'node:path';
import { matmulModel } from './onnx.mjs';

const require = createRequire(import.meta.url);
const COLD_BYTES = 1.1 * 2 ** 30;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function randomWeights(n, seed) {
  let s = seed >>> 0;
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    w[i] = (s / 2 ** 32 - 0.5) / 16;
  }
  return w;
}

function copiesFor(bytes, cold) {
  return cold ? Math.max(2, Math.ceil(COLD_BYTES / bytes)) : 1;
}

async function timeCalls(copies, call, repeats = 5) {
  const calls = copies > 1 ? copies : 50;
  for (let c = 0; c < Math.min(calls, 4); c++) await call(c % copies);  // warm-up
  const samples = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let c = 0; c < calls; c++) await call(c % copies);
    samples.push((performance.now() - t0) / calls);
  }
  return median(samples);
}

// A peer by the name its results carry, prepared (sessions / tensors built) and then timed as
// often as the caller likes, so a report can interleave implementations: a shared machine drifts.
export async function preparePeer(name, K, N, cold) {
  if (name === 'onnxruntime-web') return prepareOrt(K, N, cold);
  if (name === 'tfjs-backend-wasm') return prepareTfjs(K, N, cold);
  throw new Error(`unknown peer ${name}`);
}

async function prepareOrt(K, N, cold) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.logLevel = 'error';
  const bytes = K * N * 4;
  const copies = copiesFor(bytes, cold);
  // One model's bytes, a session (with its own copy of the weights) per copy: as ours, the
  // copies hold the same values in other memory, and the bench skips making 1.1 GB of them.
  const model = matmulModel(K, N, randomWeights(K * N, 1));
  const sessions = [];
  for (let c = 0; c < copies; c++) sessions.push(await ort.InferenceSession.create(model, { executionProviders: ['wasm'] }));
  const x = new ort.Tensor('float32', randomWeights(K, 99), [1, K]);
  return {
    async time() {
      const ms = await timeCalls(copies, async (c) => (await sessions[c].run({ x })).y);
      return { impl: 'onnxruntime-web', version: ort.env.versions?.web ?? '?', k: K, n: N, cold, ms, weight_bytes: bytes, gb_per_s: bytes / (ms * 1e6) };
    },
    async release() {
      for (const s of sessions) await s.release();
    },
  };
}

async function prepareTfjs(K, N, cold) {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  wasm.setWasmPaths(dist + '/');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
  const bytes = K * N * 4;
  const copies = copiesFor(bytes, cold);
  const weights = [];
  const values = randomWeights(K * N, 1);
  for (let c = 0; c < copies; c++) weights.push(tf.tensor2d(values, [K, N]));  // each tensor copies the values
  const x = tf.tensor2d(randomWeights(K, 99), [1, K]);
  return {
    async time() {
      const ms = await timeCalls(copies, (c) => {
        const y = tf.matMul(x, weights[c]);
        y.dataSync();
        y.dispose();
      });
      return { impl: 'tfjs-backend-wasm', version: tf.version_core, k: K, n: N, cold, ms, weight_bytes: bytes, gb_per_s: bytes / (ms * 1e6) };
    },
    async release() {
      for (const w of weights) w.dispose();
      x.dispose();
    },
  };
}
