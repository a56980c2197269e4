// Loads a checkpoint through the WebAssembly engine and prints the fused embeddings of a
// token sequence: shape, per-position norms and a few values. The first thing `npm start`
// shows: the whole stack (C++ -> WASM -> JS) working on a real Kyutai-format checkpoint.
import fs from 'node:fs';
import { createEngine } from '../web/src/engine.js';

const dir = process.argv[2] ?? new URL('../tests/data/lm/', import.meta.url).pathname;
const engine = await createEngine();
const model = await engine.loadLm(fs.readFileSync(`${dir}/config.json`, 'utf8'), fs.readFileSync(`${dir}/weights.safetensors`));
const { nQ, card, textCard, dim } = model.config;
const T = 10;
const text = Int32Array.from({ length: T }, (_, t) => (t * 7 + 1) % textCard);
const audio = Array.from({ length: nQ }, (_, c) => Int32Array.from({ length: T }, (_, t) => (t * 3 + c * 5) % card));
const { values, shape } = model.embeddingSum({ text, audio });
console.log(`checkpoint ${dir}`);
console.log(`  dim ${dim}, ${nQ} audio codebooks of ${card} entries, text vocabulary ${textCard}, ${model.weightBytes()} weight bytes`);
console.log(`  fused embeddings (Kyutai sum: ${nQ} audio tables + text), shape [${shape}]`);
for (let t = 0; t < T; t++) {
  const row = values.subarray(t * dim, (t + 1) * dim);
  const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
  console.log(`  t=${String(t).padStart(2)} text=${String(text[t]).padStart(3)} |x|=${norm.toFixed(4)}  x[0..3]=${Array.from(row.subarray(0, 4), (v) => v.toFixed(4)).join(' ')}`);
}
model.dispose();
