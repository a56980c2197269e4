// The LM's forward pass on WebGPU, driven from JS over the WebAssembly heap.
//
// Why JS and not the C++ webgpu.h route: Emscripten 3.1.6's webgpu.h bindings date from 2022
// and fail against today's browsers (dispatch() renamed, pipeline layouts required, render
// passes changed, several entry points abort('TODO')); and WebGPU is asynchronous (mapAsync)
// while the engine's C++ sessions are synchronous, so a C++ GPU path would need ASYNCIFY
// around every frame. Here the weights stay where the engine loaded them: wasm/bind_gpu.cpp
// lists each tensor's heap address, and queue.writeBuffer(buffer, 0, HEAPU8.buffer, ptr,
// bytes) uploads it once, in the engine's own packed layout (also from a SharedArrayBuffer
// heap). The session rules (ASR alignment, LMGen delays, sampling) stay in the engine's C++
// sessions, which the GPU path drives in stages around this forward (steppers.js).
//
// What runs on the GPU, per frame: the embedding gather-sum, RMSNorm/LayerNorm, the
// matrix-vector products (f32, bf16, q8, q4 read in their packed panels), RoPE, attention over
// a KV cache that lives on the GPU, the gated or plain feed-forward, the text head, the extra
// heads' softmax, argmax (greedy decoding) and the whole Depformer chain. Per frame JS writes
// the tokens, the cache slot and the position's RoPE table, submits once and reads back once:
// the sampled tokens, the semantic-VAD probabilities and the frame's new K/V rows (mirrored
// into the WebAssembly session so that a lost device costs nothing but speed). With
// temperature sampling the logits are read back instead and sampled by the engine's session
// with its generator (one read-back for the text, one per Depformer position): top-k sampling with the
// engine's exact random draws has no good GPU form, and it keeps GPU and WebAssembly sessions
// interchangeable mid-stream.
import { FRAME_WORDS, FLAG_TEXT_CHAIN, FLAG_AUDIO_CHAIN, ACTIVATIONS } from './kernels.js';

const f32 = Math.fround;
const align4 = (n) => Math.ceil(n / 4) * 4;

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

const ropeMode = (pos) => (pos === 'rope' || pos === 'sin_rope' ? 1 : pos === 'rope_concat' ? 2 : 0);
const hasSin = (pos) => pos === 'sin' || pos === 'sin_rope';
const activationId = (gating) => (gating === 'none' ? 0 : ACTIVATIONS.indexOf(gating));

// The architecture options this GPU forward implements; anything else names itself here and
// the model stays on WebAssembly.
export function unsupportedReason(info) {
  const c = info.config;
  const why = [];
  if (c.fusion !== 'sum') why.push(`audio_fusion '${c.fusion}'`);
  if (c.audioEmbDim !== c.dim) why.push('audio_emb_dim different from dim (audio_proj)');
  if (c.normEmb) why.push('norm_emb (LayerNorm on the embeddings)');
  if (c.lowRank) why.push('depformer_low_rank_embeddings');
  if (c.demux) why.push('demux_second_stream');
  if (!c.main.capacity) why.push('no attention context (the main transformer cannot stream)');
  for (const [what, t] of [['gating', c.main], ['depformer_gating', c.depformer]]) {
    if (t && t.gating !== 'none' && !ACTIVATIONS.includes(t.gating)) why.push(`${what} '${t.gating}'`);
  }
  if (info.tensors.some((t) => t.kind === 'linear' && t.native)) why.push('weights held by a native library (no packed panels)');
  const formats = new Set(info.tensors.filter((t) => t.kind === 'linear').map((t) => t.format));
  for (const fmt of formats) if (!['f32', 'bf16', 'q8', 'q4'].includes(fmt)) why.push(`weight format ${fmt}`);
  return why.length ? `unsupported architecture option${why.length > 1 ? 's' : ''}: ${why.join(', ')}` : null;
}

export class GpuLm {
  #tail = Promise.resolve();

  // gpu: a Gpu (device.js); info: gpuModelInfo(); heap: () => the module's HEAPU8.
  constructor(gpu, info, heap) {
    this.gpu = gpu;
    this.device = gpu.device;
    this.info = info;
    this.config = info.config;
    this.heap = heap;
    this.tensors = new Map(info.tensors.map((t) => [t.name, t]));
    this.buffers = [];
    this.uploadedBytes = 0;
  }

  static async create(gpu, info, heap) {
    const lm = new GpuLm(gpu, info, heap);
    try {
      await gpu.checked('uploading the model to the GPU', () => lm.#build());
    } catch (e) {
      lm.destroy();
      throw e;
    }
    return lm;
  }

  // ---- buffers ------------------------------------------------------------------------
  #buffer(size, usage, label) {
    const b = this.device.createBuffer({ label, size: Math.max(16, align4(size)), usage });
    this.buffers.push(b);
    return b;
  }

  #storage(size, label) {
    const U = GPUBufferUsage;
    return this.#buffer(size, U.STORAGE | U.COPY_SRC | U.COPY_DST, label);
  }

  #fromHeap(ptr, bytes, label) {
    const b = this.#storage(bytes, label);
    this.device.queue.writeBuffer(b, 0, this.heap().buffer, ptr, bytes);
    this.uploadedBytes += bytes;
    return b;
  }

  #fromArray(array, label) {
    const b = this.#storage(array.byteLength, label);
    this.device.queue.writeBuffer(b, 0, array.buffer, array.byteOffset, array.byteLength);
    return b;
  }

  // A uniform block of u32 words; F(x) marks a float.
  #uniform(words, label) {
    const n = Math.ceil(words.length / 4) * 4;
    const data = new ArrayBuffer(n * 4);
    const u = new Uint32Array(data);
    const fl = new Float32Array(data);
    words.forEach((w, i) => {
      if (typeof w === 'object') fl[i] = w.f;
      else u[i] = w >>> 0;
    });
    const b = this.#buffer(n * 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label);
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  #bind(pipeline, buffers, label) {
    return this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  #tensor(name) {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`the model has no tensor '${name}'`);
    return t;
  }

  #vector(name) {
    const t = this.#tensor(name);
    return this.#fromHeap(t.ptr, t.length * 4, name);
  }

  // A packed linear layer, split by panels into buffers the device can bind.
  #linear(name) {
    const t = this.#tensor(name);
    const limit = Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
    const panelBytes = t.bytes / t.panels;
    const scaleBytes = t.scalesBytes / t.panels;
    const per = Math.max(1, Math.floor(limit / panelBytes));
    const chunks = [];
    for (let p0 = 0; p0 < t.panels; p0 += per) {
      const panels = Math.min(per, t.panels - p0);
      chunks.push({
        panel0: p0,
        panels,
        w: this.#fromHeap(t.ptr + p0 * panelBytes, panels * panelBytes, `${name} [${p0}+${panels}]`),
        scales: scaleBytes ? this.#fromHeap(t.scalesPtr + p0 * scaleBytes, panels * scaleBytes, `${name} scales`) : null,
      });
    }
    const bias = this.tensors.get(name.replace(/\.weight$/, '.bias'));
    return {
      // kernel: the WGSL kernel for the packed order (q4 has two, packed_matrix.h's Q4Layout).
      name, format: t.format, kernel: t.format === 'q4' && t.q4Layout === 'bytes' ? 'q4_bytes' : t.format,
      out: t.out, in: t.in, inPadded: t.inPadded, blocks: t.inPadded / 32, chunks,
      bias: bias ? this.#fromHeap(bias.ptr, bias.length * 4, bias.name) : null,
    };
  }

  #norm(prefix, rms, eps) {
    return rms
      ? { rms: true, eps, weight: this.#vector(`${prefix}.alpha`), bias: null }
      : { rms: false, eps, weight: this.#vector(`${prefix}.weight`), bias: this.#vector(`${prefix}.bias`) };
  }

  // Embedding tables packed into buffers under the binding limit; `streams[i]` is the token
  // index table i reads. Returns groups of {buffer, entries, count}.
  #tables(names, streams) {
    const limit = Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
    const groups = [];
    let parts = [];
    let bytes = 0;
    const flush = () => {
      if (!parts.length) return;
      const buffer = this.#storage(bytes, 'embedding tables');
      const entries = new Uint32Array(parts.length * 8);
      parts.forEach((p, i) => {
        this.device.queue.writeBuffer(buffer, p.byteOffset, this.heap().buffer, p.ptr, p.bytes);
        this.uploadedBytes += p.bytes;
        entries.set([p.stream, p.row0, p.rows, p.byteOffset / (p.bf16 ? 2 : 4), p.bf16 ? 1 : 0, 0, 0, 0], i * 8);
      });
      groups.push({ buffer, entries: this.#fromArray(entries, 'table entries'), count: parts.length });
      parts = [];
      bytes = 0;
    };
    names.forEach((name, i) => {
      const t = this.#tensor(name);
      const bf16 = t.format === 'bf16';
      const rowBytes = t.width * (bf16 ? 2 : 4);
      for (let r0 = 0; r0 < t.rows;) {
        const room = Math.floor((limit - bytes) / rowBytes);
        if (room <= 0) {
          if (!parts.length) throw new Error(`an embedding row of ${name} exceeds the GPU binding limit`);
          flush();
          continue;
        }
        const rows = Math.min(t.rows - r0, room);
        parts.push({ stream: streams[i], row0: r0, rows, byteOffset: bytes, bf16, ptr: t.ptr + r0 * rowBytes, bytes: rows * rowBytes });
        bytes = align4(bytes + rows * rowBytes);
        r0 += rows;
      }
    });
    flush();
    return groups;
  }

  // ---- ops ----------------------------------------------------------------------------
  #op(kernel, buffers, x, y = 1, label = kernel) {
    const pipeline = this.pipes[kernel];
    return { pipeline, bind: this.#bind(pipeline, buffers, label), x, y };
  }

  #matvec(lin, x, xOff, y, yOff, { accumulate = false, scale = null } = {}) {
    const pipeline = this.pipes[`matvec_${lin.kernel}`];
    if (!pipeline) throw new Error(`no GPU kernel for ${lin.kernel} weights`);
    const flags = (lin.bias ? 1 : 0) | (accumulate ? 2 : 0) | (scale ? 4 : 0);
    return lin.chunks.map((c) => {
      const u = this.#uniform([lin.in, lin.out, c.panel0, c.panels, xOff, yOff, flags, lin.inPadded, lin.blocks], lin.name);
      const gx = Math.min(c.panels, 65535);
      return {
        pipeline,
        bind: this.#bind(pipeline, [x, c.w, c.scales ?? this.dummy, lin.bias ?? this.dummy, y, scale ?? this.dummy, u], lin.name),
        x: gx,
        y: Math.ceil(c.panels / gx),
      };
    });
  }

  #normOp(norm, n, x, y) {
    const u = this.#uniform([n, norm.rms ? 1 : 0, 0, 0, { f: norm.eps }, norm.bias ? 1 : 0]);
    return this.#op('norm', [x, y, norm.weight, norm.bias ?? this.dummy, u], 1);
  }

  #gatherOps(groups, out, tokenBase, accumulate) {
    return groups.map((g, i) => {
      const u = this.#uniform([g.count, out.width, accumulate || i > 0 ? 1 : 0, tokenBase]);
      return this.#op('gather', [g.buffer, g.entries, this.tokens, out.buffer, u], Math.ceil(out.width / 64));
    });
  }

  #argmaxOp(x, n, xOff, sampled, chain, bit) {
    const u = this.#uniform([n, xOff, sampled, chain, bit]);
    return this.#op('argmax', [x, this.tokens, this.frameBuf, u], 1);
  }

  #addOp(x, v, n) {
    return this.#op('add', [x, v, this.#uniform([n])], Math.ceil(n / 64));
  }

  // One transformer's static description and activation buffers.
  #transformer(t, prefix, io) {
    const layers = [];
    const sets = t.weightSets;
    for (let l = 0; l < t.numLayers; l++) {
      const p = `${prefix}layers.${l}.`;
      const L = {
        norm1: this.#norm(`${p}norm1`, t.rms, t.normEps),
        norm2: this.#norm(`${p}norm2`, t.rms, t.normEps),
        inProj: [], outProj: [], ffnIn: [], ffnOut: [],
        scale1: t.layerScale ? this.#vector(`${p}layer_scale_1.scale`) : null,
        scale2: t.layerScale ? this.#vector(`${p}layer_scale_2.scale`) : null,
      };
      for (let s = 0; s < sets; s++) {
        L.inProj.push(this.#linear(`${p}self_attn.in_projs.${s}.weight`));
        L.outProj.push(this.#linear(`${p}self_attn.out_projs.${s}.weight`));
        if (t.gating === 'none') {
          L.ffnIn.push(this.#linear(`${p}linear1.weight`));
          L.ffnOut.push(this.#linear(`${p}linear2.weight`));
        } else {
          const g = t.weightsPerStep ? `${p}gating.${s}.` : `${p}gating.`;
          L.ffnIn.push(this.#linear(`${g}linear_in.weight`));
          L.ffnOut.push(this.#linear(`${g}linear_out.weight`));
        }
      }
      layers.push(L);
    }
    return { t, layers, io };
  }

  #activations(t, label) {
    const D = t.dim;
    const qkvRows = D + 2 * t.numKvHeads * t.headDim;
    const hidden = Math.max(...t.ffnHidden);
    const ffn = t.gating === 'none' ? hidden : 2 * hidden;
    return {
      x: this.#storage(D * 4, `${label} x`),
      n: this.#storage(D * 4, `${label} normed`),
      qkv: this.#storage(qkvRows * 4, `${label} qkv`),
      attn: this.#storage(D * 4, `${label} attention`),
      hid: this.#storage(ffn * 4, `${label} ffn in`),
      g: this.#storage(hidden * 4, `${label} ffn hidden`),
    };
  }

  // The ops of one layer with weight set `set`; ropeBind / attnBind bind its KV cache.
  #layerOps(T, l, set, ropeBind, attnBind) {
    const { t, io } = T;
    const L = T.layers[l];
    const D = t.dim;
    const hidden = t.ffnHidden[set];
    const gateU = this.#uniform([hidden, activationId(t.gating), t.gating === 'none' ? 0 : 1]);
    return [
      this.#normOp(L.norm1, D, io.x, io.n),
      ...this.#matvec(L.inProj[set], io.n, 0, io.qkv, 0),
      { pipeline: this.pipes.rope_write, bind: ropeBind, x: Math.ceil((t.numHeads + 2 * t.numKvHeads) / 64), y: 1 },
      { pipeline: this.pipes.attention, bind: attnBind, x: t.numHeads, y: 1 },
      ...this.#matvec(L.outProj[set], io.attn, 0, io.x, 0, { accumulate: true, scale: L.scale1 }),
      this.#normOp(L.norm2, D, io.x, io.n),
      ...this.#matvec(L.ffnIn[set], io.n, 0, io.hid, 0),
      this.#op('gate', [io.hid, io.g, gateU], Math.ceil(hidden / 64)),
      ...this.#matvec(L.ffnOut[set], io.g, 0, io.x, 0, { accumulate: true, scale: L.scale2 }),
    ];
  }

  #ropeUniform(t, slotFixed, mirrorOff) {
    return this.#uniform([t.numHeads, t.numKvHeads, t.headDim, t.capacity, ropeMode(t.pos), slotFixed, mirrorOff >= 0 ? 1 : 0, Math.max(0, mirrorOff)]);
  }

  #attnUniform(t, nFixed) {
    return this.#uniform([t.numHeads, t.numKvHeads, t.headDim, t.capacity, t.kvRepeat, nFixed, { f: 1 / Math.sqrt(t.headDim) }]);
  }

  async #build() {
    const c = this.config;
    const m = c.main;
    const dev = this.device;
    this.pipes = this.gpu.pipelines;
    const K = c.numCodebooks;
    const Q = c.depQ;
    this.K = K;
    this.Q = Q;
    this.chainBase = K;
    this.sampledBase = K + Q + 1;
    this.dummy = this.#storage(16, 'dummy');
    this.tokens = this.#storage((K + 2 * (Q + 1)) * 4, 'tokens');
    this.frameBuf = this.#storage(FRAME_WORDS * 4, 'frame');
    this.ropeMain = this.#storage(m.headDim * 4, 'rope table');
    this.sinMain = hasSin(m.pos) ? this.#storage(m.dim * 4, 'sin embedding') : null;
    this.kvRowFloats = m.numLayers * 2 * m.numKvHeads * m.headDim;
    this.mirror = this.#storage(this.kvRowFloats * 4, 'kv mirror');

    // Main transformer.
    const io = this.#activations(m, 'main');
    const main = this.#transformer(m, 'transformer.', io);
    this.main = main;
    const scoreFloats = Math.max(m.numHeads * m.capacity, c.depformer ? c.depformer.numHeads * c.depformer.capacity : 0);
    this.scores = this.#storage(scoreFloats * 4, 'attention scores');
    this.tout = this.#storage(m.dim * 4, 'transformer out');
    this.logits = this.#storage(c.textCardOut * 4, 'text logits');
    const H = c.extraHeads;
    const E = c.extraHeadsDim;
    this.ehLogits = this.#storage(Math.max(1, H * E) * 4, 'extra heads logits');
    this.vad = this.#storage(Math.max(1, H * E) * 4, 'vad');
    this.mainLayers = main.layers.map((_, l) => ({
      rope: this.#ropeUniform(m, 0xffffffff, l * 2 * m.numKvHeads * m.headDim),
      attn: this.#attnUniform(m, 0),
    }));

    const audioTables = Array.from({ length: c.nQ }, (_, i) => `emb.${i}.weight`);
    const mainGroups = this.#tables([...audioTables, 'text_emb.weight'], [...audioTables.map((_, i) => 1 + i), 0]);
    const outNorm = this.#norm('out_norm', m.rms, m.normEps);
    const textLinear = this.#linear('text_linear.weight');
    const heads = Array.from({ length: H }, (_, h) => this.#linear(`extra_heads.${h}.weight`));

    // Ops that do not depend on the session, and per-layer placeholders for those that do.
    this.mainPre = [...this.#gatherOps(mainGroups, { buffer: io.x, width: m.dim }, 0, false)];
    if (this.sinMain) this.mainPre.push(this.#addOp(io.x, this.sinMain, m.dim));
    // The rope/attention ops bind the session's KV cache: placeholders filled by newState().
    this.mainLayers_ = main.layers.flatMap((_, l) => this.#layerOps(main, l, 0, { slot: 'rope', l }, { slot: 'attn', l }));
    this.mainPost = [
      this.#normOp(outNorm, m.dim, io.x, this.tout),
      ...this.#matvec(textLinear, this.tout, 0, this.logits, 0),
      ...heads.flatMap((lin, h) => this.#matvec(lin, this.tout, 0, this.ehLogits, h * E)),
    ];
    if (H > 0) this.mainPost.push(this.#op('softmax', [this.ehLogits, this.vad, this.#uniform([H, E])], Math.ceil(H / 64)));
    this.textArgmax = this.#argmaxOp(this.logits, c.textCardOut, 0, this.sampledBase, this.chainBase, FLAG_TEXT_CHAIN);

    // Depformer: every op is static (its cache is rebuilt at each frame, frames are exclusive).
    this.depOps = [];
    this.audioArgmax = [];
    if (Q > 0) {
      const d = c.depformer;
      const dio = this.#activations(d, 'depformer');
      const dep = this.#transformer(d, 'depformer.', dio);
      this.dlogits = this.#storage(Q * c.card * 4, 'depformer logits');
      const depIn = Array.from({ length: d.inSets }, (_, j) => this.#linear(`depformer_in.${j}.weight`));
      const linears = Array.from({ length: Q }, (_, k) => this.#linear(`linears.${k}.weight`));
      const headNorms = d.headNorm ? Array.from({ length: Q }, (_, k) => this.#norm(`depformer_norms.${k}`, d.headNormRms, d.headNormEps)) : null;
      const dn = headNorms ? this.#storage(d.dim * 4, 'depformer head norm') : null;
      const caches = dep.layers.map(() => ({
        k: this.#storage(d.numKvHeads * d.capacity * d.headDim * 4, 'depformer keys'),
        v: this.#storage(d.numKvHeads * d.capacity * d.headDim * 4, 'depformer values'),
      }));
      for (let k = 0; k < Q; k++) {
        const table = k === 0 ? 'depformer_text_emb.weight' : `depformer_emb.${k - 1}.weight`;
        const groups = this.#tables([table], [k]);
        const set = d.weightsPerStep ? d.stepWeightSet[k] : 0;
        const rope = this.#fromArray(ropeMode(d.pos) ? ropeTable(k, d.headDim, d.maxPeriod) : new Float32Array(2), `depformer rope ${k}`);
        const ops = [
          ...this.#matvec(depIn[d.inIndex[k]], this.tout, 0, dio.x, 0),
          ...this.#gatherOps(groups, { buffer: dio.x, width: d.dim }, this.chainBase, true),
        ];
        if (hasSin(d.pos)) ops.push(this.#addOp(dio.x, this.#fromArray(sinEmbedding(k, d.dim, d.maxPeriod, d.posScale), 'depformer sin'), d.dim));
        dep.layers.forEach((_, l) => {
          const ru = this.#ropeUniform(d, k, -1);
          const au = this.#attnUniform(d, k + 1);
          const ropeBind = this.#bind(this.pipes.rope_write, [dio.qkv, caches[l].k, caches[l].v, rope, this.frameBuf, this.dummy2 ??= this.#storage(16, 'dummy rw'), ru]);
          const attnBind = this.#bind(this.pipes.attention, [dio.qkv, caches[l].k, caches[l].v, dio.attn, this.scores, this.frameBuf, au]);
          ops.push(...this.#layerOps(dep, l, set, ropeBind, attnBind));
        });
        let head = dio.x;
        if (headNorms) {
          ops.push(this.#normOp(headNorms[k], d.dim, dio.x, dn));
          head = dn;
        }
        ops.push(...this.#matvec(linears[k], head, 0, this.dlogits, k * c.card));
        this.depOps.push(ops);
        this.audioArgmax.push(this.#argmaxOp(this.dlogits, c.card, k * c.card, this.sampledBase + 1 + k, this.chainBase + k + 1, FLAG_AUDIO_CHAIN));
      }
    }

    // Read-back layout: sampled tokens, VAD probabilities, K/V mirror rows, then the optional
    // debug outputs (transformer out, text logits, Depformer logits).
    const U = GPUBufferUsage;
    let o = 0;
    const region = (bytes) => {
      const r = { offset: o, bytes };
      o += align4(bytes);
      return r;
    };
    this.layout = {
      sampled: region((1 + Q) * 4),
      vad: region(H * E * 4),
      mirror: region(this.kvRowFloats * 4),
      tout: region(m.dim * 4),
      logits: region(c.textCardOut * 4),
      dlogits: region(Q * c.card * 4),
    };
    this.staging = this.#buffer(o, U.MAP_READ | U.COPY_DST, 'read-back');
    this.smallStaging = this.#buffer(Math.max(c.textCardOut, c.card) * 4, U.MAP_READ | U.COPY_DST, 'logits read-back');
    await dev.queue.onSubmittedWorkDone();
  }

  // ---- sessions -----------------------------------------------------------------------
  // A stream's GPU state: the main transformer's KV cache and its bind groups.
  newState() {
    const m = this.config.main;
    const io = this.main.io;
    const bytes = m.numKvHeads * m.capacity * m.headDim * 4;
    const U = GPUBufferUsage;
    const own = [];
    const make = (label) => {
      const b = this.device.createBuffer({ label, size: Math.max(16, bytes), usage: U.STORAGE | U.COPY_SRC });
      own.push(b);
      return b;
    };
    const bind = this.mainLayers.map((u, l) => {
      const k = make(`keys ${l}`);
      const v = make(`values ${l}`);
      return {
        rope: this.#bind(this.pipes.rope_write, [io.qkv, k, v, this.ropeMain, this.frameBuf, this.mirror, u.rope]),
        attn: this.#bind(this.pipes.attention, [io.qkv, k, v, io.attn, this.scores, this.frameBuf, u.attn]),
      };
    });
    const layerOps = this.mainLayers_.map((op) => (op.bind.slot ? { ...op, bind: bind[op.bind.l][op.bind.slot] } : op));
    return { pos: 0, own, ops: [...this.mainPre, ...layerOps, ...this.mainPost] };
  }

  destroyState(state) {
    for (const b of state.own) b.destroy();
    state.own = [];
  }

  // Frames run one at a time (they share activation buffers and the read-back buffer).
  #exclusive(fn) {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => {});
    return run;
  }

  // One frame. req: {tokens: Int32Array(K), forcedText?, teacher?: Int32Array(dep_q),
  // textSample?: logits => token, audioSample?: (logits, k) => token, depformer: bool, debug: bool}.
  frame(state, req) {
    return this.#exclusive(() => this.#scoped(state, req));
  }

  // Errors WebGPU reports for this frame's calls (validation, out of memory) fail the frame.
  async #scoped(state, req) {
    if (this.gpu.lost) throw new Error(this.gpu.lostReason);
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result;
    let failure = null;
    try {
      result = await this.#frame(state, req);
    } catch (e) {
      failure = e;
    }
    const validation = await d.popErrorScope().catch(() => null);
    const oom = await d.popErrorScope().catch(() => null);
    if (this.gpu.lost) throw new Error(this.gpu.lostReason);
    if (failure) throw failure;
    if (validation) throw new Error(`WebGPU validation error: ${validation.message}`);
    if (oom) throw new Error(`WebGPU out of memory: ${oom.message}`);
    state.pos += 1;
    return result;
  }

  #encode(pass, ops) {
    for (const op of ops) {
      pass.setPipeline(op.pipeline);
      pass.setBindGroup(0, op.bind);
      pass.dispatchWorkgroups(op.x, op.y);
    }
  }

  async #readSmall(encoder, source, offset, bytes) {
    encoder.copyBufferToBuffer(source, offset, this.smallStaging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await this.smallStaging.mapAsync(GPUMapMode.READ, 0, bytes);
    const out = new Float32Array(this.smallStaging.getMappedRange(0, bytes).slice(0));
    this.smallStaging.unmap();
    return out;
  }

  async #frame(state, req) {
    const c = this.config;
    const m = c.main;
    const Q = req.depformer ? this.Q : 0;
    const q = this.device.queue;
    const forced = req.forcedText !== undefined && req.forcedText !== null;
    const teacher = req.teacher ?? null;
    const textChain = !forced && !teacher && !req.textSample;
    const audioChain = !teacher && !req.audioSample;
    q.writeBuffer(this.frameBuf, 0, new Uint32Array([Math.min(state.pos + 1, m.capacity), state.pos % m.capacity,
      (textChain ? FLAG_TEXT_CHAIN : 0) | (audioChain ? FLAG_AUDIO_CHAIN : 0), 0]));
    const tokens = new Int32Array(this.K + this.Q + 1);
    tokens.set(req.tokens);
    if (forced) tokens[this.chainBase] = req.forcedText;
    if (teacher) tokens.set(teacher.subarray(0, this.Q), this.chainBase);
    q.writeBuffer(this.tokens, 0, tokens);
    if (ropeMode(m.pos)) q.writeBuffer(this.ropeMain, 0, ropeTable(state.pos, m.headDim, m.maxPeriod));
    if (this.sinMain) q.writeBuffer(this.sinMain, 0, sinEmbedding(state.pos, m.dim, m.maxPeriod, m.posScale));

    let encoder = this.device.createCommandEncoder();
    let pass = encoder.beginComputePass();
    this.#encode(pass, state.ops);
    this.#encode(pass, [this.textArgmax]);
    let textToken = forced ? req.forcedText : null;
    let textLogits = null;
    if (Q > 0 && !forced && !teacher && req.textSample) {
      // The Depformer's first input is the sampled text token: the session samples it now.
      pass.end();
      textLogits = await this.#readSmall(encoder, this.logits, 0, c.textCardOut * 4);
      textToken = req.textSample(textLogits);
      q.writeBuffer(this.tokens, this.chainBase * 4, new Int32Array([textToken]));
      encoder = this.device.createCommandEncoder();
      pass = encoder.beginComputePass();
    }
    const audio = new Int32Array(Q);
    const jsAudio = Q > 0 && !teacher && req.audioSample;
    const depLogits = jsAudio ? new Float32Array(Q * c.card) : null;
    for (let k = 0; k < Q; k++) {
      this.#encode(pass, this.depOps[k]);
      this.#encode(pass, [this.audioArgmax[k]]);
      if (jsAudio) {
        pass.end();
        const logits = await this.#readSmall(encoder, this.dlogits, k * c.card * 4, c.card * 4);
        depLogits.set(logits, k * c.card);
        audio[k] = req.audioSample(logits, k);
        q.writeBuffer(this.tokens, (this.chainBase + k + 1) * 4, new Int32Array([audio[k]]));
        encoder = this.device.createCommandEncoder();
        pass = encoder.beginComputePass();
      }
    }
    pass.end();

    // The frame's one read-back.
    const L = this.layout;
    const H = c.extraHeads * c.extraHeadsDim;
    const wantLogits = req.debug || (!forced && req.textSample && textToken === null);
    const copy = (src, srcOffset, r, bytes = r.bytes) => bytes && encoder.copyBufferToBuffer(src, srcOffset, this.staging, r.offset, bytes);
    copy(this.tokens, this.sampledBase * 4, L.sampled);
    copy(this.vad, 0, L.vad);
    copy(this.mirror, 0, L.mirror);
    if (req.debug) copy(this.tout, 0, L.tout);
    if (wantLogits) copy(this.logits, 0, L.logits);
    if (req.debug && Q > 0 && !jsAudio) copy(this.dlogits, 0, L.dlogits);
    q.submit([encoder.finish()]);
    const end = req.debug || wantLogits ? L.dlogits.offset + L.dlogits.bytes : L.mirror.offset + L.mirror.bytes;
    await this.staging.mapAsync(GPUMapMode.READ, 0, end);
    const data = this.staging.getMappedRange(0, end).slice(0);
    this.staging.unmap();

    const sampled = new Int32Array(data, L.sampled.offset, 1 + this.Q);
    const result = {
      kvRows: new Float32Array(data, L.mirror.offset, this.kvRowFloats),
      vad: new Float32Array(data, L.vad.offset, H),
    };
    if (wantLogits) textLogits = new Float32Array(data, L.logits.offset, c.textCardOut);
    if (textToken === null) textToken = req.textSample ? req.textSample(textLogits) : sampled[0];
    for (let k = 0; k < Q; k++) if (!jsAudio) audio[k] = sampled[1 + k];
    result.textToken = textToken;
    result.audioTokens = audio;
    if (req.debug) {
      result.transformerOut = new Float32Array(data, L.tout.offset, m.dim);
      result.textLogits = textLogits;
      result.depformerLogits = depLogits ?? new Float32Array(data, L.dlogits.offset, Q * c.card);
    }
    return result;
  }

  destroy() {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
  }
}
