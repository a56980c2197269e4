// The GPU LM's passes (lm_gpu.js): the dispatches of one frame's steps (products, norms,
// embedding gathers, argmax) and of a transformer layer, over the buffers GpuUpload made, plus
// the per-position tables (RoPE, sinusoidal embedding) JS computes for them.
import { ACTIVATIONS } from './kernels.js';

const f32 = Math.fround;

// RoPE cos/sin pairs of one position, in the float32 steps of src/kernels/ops.cpp apply_rope.
export function ropeTable(position, headDim, maxPeriod) {
  const half = headDim / 2;
  const coef = f32(-Math.log(maxPeriod) * 2.0 / headDim);
  const ts = f32(position);
  const out = new Float32Array(2 * half);
  for (let i = 0; i < half; i++) {
    const freq = f32(Math.exp(f32(i * coef)));
    const angle = f32(freq * ts);
    out[2 * i] = Math.cos(angle);
    out[2 * i + 1] = Math.sin(angle);
  }
  return out;
}

// Kyutai's sinusoidal embedding of one position (add_sin_embedding), already scaled.
export function sinEmbedding(position, dim, maxPeriod, scale) {
  const half = dim / 2;
  const pos = f32(position);
  const period = f32(maxPeriod);
  const out = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const expo = f32(i / (half - 1));
    const phase = f32(pos / f32(Math.pow(period, expo)));
    out[i] = f32(scale * f32(Math.cos(phase)));
    out[half + i] = f32(scale * f32(Math.sin(phase)));
  }
  return out;
}

export const ropeMode = (pos) => (pos === 'rope' || pos === 'sin_rope' ? 1 : pos === 'rope_concat' ? 2 : 0);
export const hasSin = (pos) => pos === 'sin' || pos === 'sin_rope';
const activationId = (gating) => (gating === 'none' ? 0 : ACTIVATIONS.indexOf(gating));

export class GpuPasses {
  // up: the LM's GpuUpload; pipes: the device's pipelines (kernels.js); shared: the LM's
  // {dummy, tokens, frameBuf} buffers, which many ops bind.
  constructor(up, pipes, shared) {
    this.up = up;
    this.pipes = pipes;
    this.dummy = shared.dummy;
    this.tokens = shared.tokens;
    this.frameBuf = shared.frameBuf;
  }

  op(kernel, buffers, x, y = 1, label = kernel) {
    const pipeline = this.pipes[kernel];
    return { pipeline, bind: this.up.bind(pipeline, buffers, label), x, y };
  }

  matvec(lin, x, xOff, y, yOff, { accumulate = false, scale = null } = {}) {
    const pipeline = this.pipes[`matvec_${lin.kernel}`];
    if (!pipeline) throw new Error(`no GPU kernel for ${lin.kernel} weights`);
    const flags = (lin.bias ? 1 : 0) | (accumulate ? 2 : 0) | (scale ? 4 : 0);
    return lin.chunks.map((c) => {
      const u = this.up.uniform([lin.in, lin.out, c.panel0, c.panels, xOff, yOff, flags, lin.inPadded, lin.blocks], lin.name);
      const gx = Math.min(c.panels, 65535);
      return {
        pipeline,
        bind: this.up.bind(pipeline, [x, c.w, c.scales ?? this.dummy, lin.bias ?? this.dummy, y, scale ?? this.dummy, u], lin.name),
        x: gx,
        y: Math.ceil(c.panels / gx),
      };
    });
  }

  normOp(norm, n, x, y) {
    const u = this.up.uniform([n, norm.rms ? 1 : 0, 0, 0, { f: norm.eps }, norm.bias ? 1 : 0]);
    return this.op('norm', [x, y, norm.weight, norm.bias ?? this.dummy, u], 1);
  }

  // mode/card: a demultiplexed token's first (1) or second (2) stream (GATHER).
  gatherOps(groups, out, tokenBase, accumulate, { mode = 0, card = 0 } = {}) {
    return groups.map((g, i) => {
      const u = this.up.uniform([g.count, out.width, accumulate || i > 0 ? 1 : 0, tokenBase, mode, card]);
      return this.op('gather', [g.buffer, g.entries, this.tokens, out.buffer, u], Math.ceil(out.width / 64));
    });
  }

  // x += the embedding of token tokens[tokenBase + stream] in table `name` (ScaledEmbedding):
  // demux: out1(T[first]) + out2(T[second]); low rank: low_rank(T[token]); token -1 adds 0.
  // tmp: {a, b} scratch buffers of the table's width.
  embeddingOps(name, { demux, lowRank }, x, tokenBase, stream, tmp) {
    const t = this.up.tensors.get(`${name}.weight`);
    const groups = this.up.tables([`${name}.weight`], [stream]);
    const into = (buffer, mode) => this.gatherOps(groups, { buffer, width: t.width }, tokenBase, false, { mode, card: t.rows });
    const add = (linear, from) => this.matvec(this.up.linear(`${name}.${linear}.weight`), from, 0, x, 0, { accumulate: true });
    if (demux) return [...into(tmp.a, 1), ...into(tmp.b, 2), ...add('out1', tmp.a), ...add('out2', tmp.b)];
    if (lowRank) return [...into(tmp.a, 0), ...add('low_rank', tmp.a)];
    return this.gatherOps(groups, { buffer: x, width: t.width }, tokenBase, true);
  }

  argmaxOp(x, n, xOff, sampled, chain, bit) {
    const u = this.up.uniform([n, xOff, sampled, chain, bit]);
    return this.op('argmax', [x, this.tokens, this.frameBuf, u], 1);
  }

  addOp(x, v, n) {
    return this.op('add', [x, v, this.up.uniform([n])], Math.ceil(n / 64));
  }

  // One transformer's static description and activation buffers.
  transformer(t, prefix, io) {
    const layers = [];
    const sets = t.weightSets;
    for (let l = 0; l < t.numLayers; l++) {
      const p = `${prefix}layers.${l}.`;
      const L = {
        norm1: this.up.norm(`${p}norm1`, t.rms, t.normEps),
        norm2: this.up.norm(`${p}norm2`, t.rms, t.normEps),
        inProj: [], outProj: [], ffnIn: [], ffnOut: [],
        scale1: t.layerScale ? this.up.vector(`${p}layer_scale_1.scale`) : null,
        scale2: t.layerScale ? this.up.vector(`${p}layer_scale_2.scale`) : null,
        // Kyutai's TTS: cross-attention to the stream's condition (keys/values bound per stream).
        cross: t.crossAttention ? {
          norm: this.up.norm(`${p}norm_cross`, false, t.crossNormEps),
          q: this.up.linear(`${p}cross_attention.in_projs.0.q.weight`),
          out: this.up.linear(`${p}cross_attention.out_projs.0.weight`),
        } : null,
      };
      for (let s = 0; s < sets; s++) {
        L.inProj.push(this.up.linear(`${p}self_attn.in_projs.${s}.weight`));
        L.outProj.push(this.up.linear(`${p}self_attn.out_projs.${s}.weight`));
        if (t.gating === 'none') {
          L.ffnIn.push(this.up.linear(`${p}linear1.weight`));
          L.ffnOut.push(this.up.linear(`${p}linear2.weight`));
        } else {
          const g = t.weightsPerStep ? `${p}gating.${s}.` : `${p}gating.`;
          L.ffnIn.push(this.up.linear(`${g}linear_in.weight`));
          L.ffnOut.push(this.up.linear(`${g}linear_out.weight`));
        }
      }
      layers.push(L);
    }
    return { t, layers, io };
  }

  activations(t, label) {
    const D = t.dim;
    const qkvRows = D + 2 * t.numKvHeads * t.headDim;
    const hidden = Math.max(...t.ffnHidden);
    const ffn = t.gating === 'none' ? hidden : 2 * hidden;
    return {
      x: this.up.storage(D * 4, `${label} x`),
      n: this.up.storage(D * 4, `${label} normed`),
      qkv: this.up.storage(qkvRows * 4, `${label} qkv`),
      attn: this.up.storage(D * 4, `${label} attention`),
      hid: this.up.storage(ffn * 4, `${label} ffn in`),
      g: this.up.storage(hidden * 4, `${label} ffn hidden`),
    };
  }

  // The ops of one layer with weight set `set`; ropeBind / attnBind bind its KV cache,
  // crossBind the attention over the stream's condition (layers with cross-attention).
  layerOps(T, l, set, ropeBind, attnBind, crossBind = null) {
    const { t, io } = T;
    const L = T.layers[l];
    const D = t.dim;
    const hidden = t.ffnHidden[set];
    const gateU = this.up.uniform([hidden, activationId(t.gating), t.gating === 'none' ? 0 : 1]);
    return [
      this.normOp(L.norm1, D, io.x, io.n),
      ...this.matvec(L.inProj[set], io.n, 0, io.qkv, 0),
      { pipeline: this.pipes.rope_write, bind: ropeBind, x: Math.ceil((t.numHeads + 2 * t.numKvHeads) / 64), y: 1 },
      { pipeline: this.pipes.attention, bind: attnBind, x: t.numHeads, y: 1 },
      ...this.matvec(L.outProj[set], io.attn, 0, io.x, 0, { accumulate: true, scale: L.scale1 }),
      ...(L.cross ? this.crossOps(T, L.cross, crossBind) : []),
      this.normOp(L.norm2, D, io.x, io.n),
      ...this.matvec(L.ffnIn[set], io.n, 0, io.hid, 0),
      this.op('gate', [io.hid, io.g, gateU], Math.ceil(hidden / 64)),
      ...this.matvec(L.ffnOut[set], io.g, 0, io.x, 0, { accumulate: true, scale: L.scale2 }),
    ];
  }

  // x += out(attention(q(LayerNorm(x)), the condition's keys and values)): no rotation, no
  // mask, every source position visible (the attention kernel with n fixed to the source length).
  crossOps({ t, io }, cross, bind) {
    return [
      this.normOp(cross.norm, t.dim, io.x, io.n),
      ...this.matvec(cross.q, io.n, 0, io.qkv, 0),
      { pipeline: this.pipes.attention, bind, x: t.numHeads, y: 1 },
      ...this.matvec(cross.out, io.attn, 0, io.x, 0, { accumulate: true }),
    ];
  }

  // The cross-attention's uniform for a source of `length` positions ([heads, length,
  // head_dim]), owned by the stream (`own`).
  crossUniform(t, length, own) {
    return this.up.uniform([t.numHeads, t.numHeads, t.headDim, length, 1, length, { f: 1 / Math.sqrt(t.headDim) }], 'cross attention', own);
  }

  ropeUniform(t, slotFixed, mirrorOff) {
    return this.up.uniform([t.numHeads, t.numKvHeads, t.headDim, t.capacity, ropeMode(t.pos), slotFixed, mirrorOff >= 0 ? 1 : 0, Math.max(0, mirrorOff)]);
  }

  attnUniform(t, nFixed) {
    return this.up.uniform([t.numHeads, t.numKvHeads, t.headDim, t.capacity, t.kvRepeat, nFixed, { f: 1 / Math.sqrt(t.headDim) }]);
  }
}
