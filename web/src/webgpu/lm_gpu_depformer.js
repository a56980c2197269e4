// The GPU LM's Depformer passes (lm_gpu.js): for each codebook position k, the ops from the main
// transformer's output to that position's logits and its argmax. Every op is static (the
// Depformer's cache is rebuilt at each frame, frames are exclusive).
import { FLAG_AUDIO_CHAIN } from './kernels.js';
import { ropeTable, sinEmbedding, ropeMode, hasSin } from './lm_gpu_passes.js';

// lm: the GpuLm being built (its GpuUpload `up`, GpuPasses `passes`, pipelines and shared
// buffers). Returns {dlogits: the logits buffer, ops: per position, argmax: per position}.
export function depformerPasses(lm) {
  const c = lm.config;
  const Q = lm.Q;
  const { up, passes } = lm;
  const depOps = [];
  const audioArgmax = [];
  if (Q <= 0) return { dlogits: null, ops: depOps, argmax: audioArgmax };
  const d = c.depformer;
  const dio = passes.activations(d, 'depformer');
  const dep = passes.transformer(d, 'depformer.', dio);
  const dlogits = up.storage(Q * c.card * 4, 'depformer logits');
  const depIn = Array.from({ length: d.inSets }, (_, j) => up.linear(`depformer_in.${j}.weight`));
  const linears = Array.from({ length: Q }, (_, k) => up.linear(`linears.${k}.weight`));
  const headNorms = d.headNorm ? Array.from({ length: Q }, (_, k) => up.norm(`depformer_norms.${k}`, d.headNormRms, d.headNormEps)) : null;
  const dn = headNorms ? up.storage(d.dim * 4, 'depformer head norm') : null;
  const caches = dep.layers.map(() => ({
    k: up.storage(d.numKvHeads * d.capacity * d.headDim * 4, 'depformer keys'),
    v: up.storage(d.numKvHeads * d.capacity * d.headDim * 4, 'depformer values'),
  }));
  let dummyRw = null;
  for (let k = 0; k < Q; k++) {
    const embedding = k === 0 ? 'depformer_text_emb' : `depformer_emb.${k - 1}`;
    const set = d.weightsPerStep ? d.stepWeightSet[k] : 0;
    const rope = up.fromArray(ropeMode(d.pos) ? ropeTable(k, d.headDim, d.maxPeriod) : new Float32Array(2), `depformer rope ${k}`);
    const ops = [
      ...passes.matvec(depIn[d.inIndex[k]], lm.tout, 0, dio.x, 0),
      ...passes.embeddingOps(embedding, { demux: k === 0 && c.demux, lowRank: c.lowRank > 0 }, dio.x, lm.chainBase, k, lm.embedScratch),
    ];
    if (hasSin(d.pos)) ops.push(passes.addOp(dio.x, up.fromArray(sinEmbedding(k, d.dim, d.maxPeriod, d.posScale), 'depformer sin'), d.dim));
    dep.layers.forEach((_, l) => {
      const ru = passes.ropeUniform(d, k, -1);
      const au = passes.attnUniform(d, k + 1);
      const ropeBind = up.bind(lm.pipes.rope_write, [dio.qkv, caches[l].k, caches[l].v, rope, lm.frameBuf, dummyRw ??= up.storage(16, 'dummy rw'), ru]);
      const attnBind = up.bind(lm.pipes.attention, [dio.qkv, caches[l].k, caches[l].v, dio.attn, lm.scores, lm.frameBuf, au]);
      ops.push(...passes.layerOps(dep, l, set, ropeBind, attnBind));
    });
    let head = dio.x;
    if (headNorms) {
      ops.push(passes.normOp(headNorms[k], d.dim, dio.x, dn));
      head = dn;
    }
    ops.push(...passes.matvec(linears[k], head, 0, dlogits, k * c.card));
    depOps.push(ops);
    audioArgmax.push(passes.argmaxOp(dlogits, c.card, k * c.card, lm.sampledBase + 1 + k, lm.chainBase + k + 1, FLAG_AUDIO_CHAIN));
  }
  return { dlogits, ops: depOps, argmax: audioArgmax };
}
