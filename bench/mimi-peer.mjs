// The peer for Mimi's layers: each convolution of one streaming frame (the bench module's
// mimiLayers(): shape, rows per frame, left context) as a one-node ONNX graph (bench/onnx.mjs)
// in onnxruntime-web, one thread, in Node: median ms per frame's rows, per layer.
import { convModel, convInputRows } from './onnx.mjs';

function randomValues(n, seed, scale) {
  let s = seed >>> 0;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    v[i] = (2 * (s / 2 ** 32) - 1) * scale;
  }
  return v;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// layers: mimiLayers().layers; returns [{name, ms}] in the same order.
export async function timeOrtConvLayers(layers, frames) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.logLevel = 'error';
  const out = [];
  for (const [i, layer] of layers.entries()) {
    const perGroup = layer.op === 'conv1d' ? layer.in / layer.groups : layer.out / layer.groups;
    const weightCount = (layer.op === 'conv1d' ? layer.out : layer.in) * perGroup * layer.kernel;
    const weights = randomValues(weightCount, i + 1, 1 / Math.sqrt((layer.in / layer.groups) * layer.kernel));
    const session = await ort.InferenceSession.create(convModel(layer, weights), { executionProviders: ['wasm'] });
    const rows = convInputRows(layer);
    const x = new ort.Tensor('float32', randomValues(layer.in * rows, 1000 + i, 1), [1, layer.in, rows]);
    for (let w = 0; w < 3; w++) await session.run({ x });
    const samples = [];
    for (let f = 0; f < frames; f++) {
      const t0 = performance.now();
      await session.run({ x });
      samples.push(performance.now() - t0);
    }
    await session.release();
    out.push({ name: layer.name, ms: median(samples), version: ort.env.versions?.web ?? '?' });
  }
  return out;
}
