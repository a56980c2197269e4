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
//
// This file builds the main transformer's ops and runs frames; lm_gpu_upload.js holds the
// buffers and the weight upload, lm_gpu_passes.js the ops of each step and layer,
// lm_gpu_depformer.js the Depformer's ops.
import { FRAME_WORDS, FLAG_TEXT_CHAIN, FLAG_AUDIO_CHAIN, ACTIVATIONS } from './kernels.js';
import { GpuUpload, align4 } from './lm_gpu_upload.js';
import { GpuPasses, ropeTable, sinEmbedding, ropeMode, hasSin } from './lm_gpu_passes.js';
import { depformerPasses } from './lm_gpu_depformer.js';

// The architecture options this GPU forward implements; anything else names itself here and
// the model stays on WebAssembly.
export function unsupportedReason(info) {
  const c = info.config;
  const why = [];
  if (c.fusion !== 'sum') why.push(`audio_fusion '${c.fusion}'`);
  if (c.audioEmbDim !== c.dim) why.push('audio_emb_dim different from dim (audio_proj)');
  if (c.normEmb) why.push('norm_emb (LayerNorm on the embeddings)');
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
    // Every buffer and the weight upload (lm_gpu_upload.js); the ops are built over them in #build.
    this.up = new GpuUpload(gpu, info.tensors, heap);
  }

  // Bytes of weights and tables copied from the WebAssembly heap.
  get uploadedBytes() {
    return this.up.uploadedBytes;
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

  async #build() {
    const c = this.config;
    const m = c.main;
    const dev = this.device;
    const up = this.up;
    this.pipes = this.gpu.pipelines;
    const K = c.numCodebooks;
    const Q = c.depQ;
    this.K = K;
    this.Q = Q;
    this.chainBase = K;
    this.sampledBase = K + Q + 1;
    this.dummy = up.storage(16, 'dummy');
    this.tokens = up.storage((K + 2 * (Q + 1)) * 4, 'tokens');
    this.frameBuf = up.storage(FRAME_WORDS * 4, 'frame');
    const passes = new GpuPasses(up, this.pipes, { dummy: this.dummy, tokens: this.tokens, frameBuf: this.frameBuf });
    this.passes = passes;
    this.ropeMain = up.storage(m.headDim * 4, 'rope table');
    this.sinMain = hasSin(m.pos) ? up.storage(m.dim * 4, 'sin embedding') : null;
    this.kvRowFloats = m.numLayers * 2 * m.numKvHeads * m.headDim;
    this.mirror = up.storage(this.kvRowFloats * 4, 'kv mirror');

    // Main transformer.
    const io = passes.activations(m, 'main');
    // Scratch rows of the demultiplexed and low-rank embeddings (lm_gpu_passes.js embeddingOps).
    const scratch = Math.max(m.dim, c.depformer?.dim ?? 0, c.lowRank);
    this.embedScratch = { a: up.storage(scratch * 4, 'embedding row a'), b: up.storage(scratch * 4, 'embedding row b') };
    const main = passes.transformer(m, 'transformer.', io);
    this.main = main;
    const scoreFloats = Math.max(m.numHeads * m.capacity, c.depformer ? c.depformer.numHeads * c.depformer.capacity : 0);
    this.scores = up.storage(scoreFloats * 4, 'attention scores');
    this.tout = up.storage(m.dim * 4, 'transformer out');
    this.logits = up.storage(c.textCardOut * 4, 'text logits');
    const H = c.extraHeads;
    const E = c.extraHeadsDim;
    this.ehLogits = up.storage(Math.max(1, H * E) * 4, 'extra heads logits');
    this.vad = up.storage(Math.max(1, H * E) * 4, 'vad');
    this.mainLayers = main.layers.map((_, l) => ({
      rope: passes.ropeUniform(m, 0xffffffff, l * 2 * m.numKvHeads * m.headDim),
      attn: passes.attnUniform(m, 0),
    }));

    const audioTables = Array.from({ length: c.nQ }, (_, i) => `emb.${i}.weight`);
    // Demultiplexed text (Kyutai's TTS) is added after the audio sum, as the engine does.
    const gathered = c.demux ? audioTables : [...audioTables, 'text_emb.weight'];
    const mainGroups = up.tables(gathered, [...audioTables.map((_, i) => 1 + i), 0]);
    const outNorm = up.norm('out_norm', m.rms, m.normEps);
    const textLinear = up.linear('text_linear.weight');
    const heads = Array.from({ length: H }, (_, h) => up.linear(`extra_heads.${h}.weight`));

    // Ops that do not depend on the session, and per-layer placeholders for those that do.
    this.mainEmbed = [...passes.gatherOps(mainGroups, { buffer: io.x, width: m.dim }, 0, false)];
    if (c.demux) this.mainEmbed.push(...passes.embeddingOps('text_emb', { demux: true }, io.x, 0, 0, this.embedScratch));
    // The stream's condition sum comes next (newState), then the sinusoidal positions.
    this.sumUniform = up.uniform([m.dim]);
    this.mainSin = this.sinMain ? [passes.addOp(io.x, this.sinMain, m.dim)] : [];
    // The rope/attention ops bind the session's KV cache (and cross-attention its condition):
    // placeholders filled by newState().
    this.mainLayers_ = main.layers.flatMap((_, l) => passes.layerOps(main, l, 0, { slot: 'rope', l }, { slot: 'attn', l }, { slot: 'cross', l }));
    this.mainPost = [
      passes.normOp(outNorm, m.dim, io.x, this.tout),
      ...passes.matvec(textLinear, this.tout, 0, this.logits, 0),
      ...heads.flatMap((lin, h) => passes.matvec(lin, this.tout, 0, this.ehLogits, h * E)),
    ];
    if (H > 0) this.mainPost.push(passes.op('softmax', [this.ehLogits, this.vad, up.uniform([H, E])], Math.ceil(H / 64)));
    this.textArgmax = passes.argmaxOp(this.logits, c.textCardOut, 0, this.sampledBase, this.chainBase, FLAG_TEXT_CHAIN);

    // Depformer (lm_gpu_depformer.js): one static op list and argmax per position.
    const dep = depformerPasses(this);
    this.dlogits = dep.dlogits;
    this.depOps = dep.ops;
    this.audioArgmax = dep.argmax;

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
    this.staging = up.buffer(o, U.MAP_READ | U.COPY_DST, 'read-back');
    this.smallStaging = up.buffer(Math.max(c.textCardOut, c.card) * 4, U.MAP_READ | U.COPY_DST, 'logits read-back');
    await dev.queue.onSubmittedWorkDone();
  }

  // ---- sessions ----------------------------------------------------------------------
  // A stream's GPU state: the main transformer's KV cache and its bind groups; a conditioned
  // model (Kyutai's TTS) also takes the stream's conditions as the engine prepared them
  // ({sum, crossLength, crossKeys, crossValues}: the speaker's conditions(), computed once per
  // session on the CPU) and holds them on the device.
  newState(conditions = null) {
    const c = this.config;
    const m = c.main;
    if (c.conditioned && !conditions) throw new Error('a conditioned model (Kyutai\'s TTS) needs the stream\'s conditions on the GPU');
    const io = this.main.io;
    const bytes = m.numKvHeads * m.capacity * m.headDim * 4;
    const U = GPUBufferUsage;
    const own = [];
    const make = (label, size = bytes) => {
      const b = this.device.createBuffer({ label, size: Math.max(16, size), usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
      own.push(b);
      return b;
    };
    const upload = (label, array) => {
      const b = make(label, array.byteLength);
      this.device.queue.writeBuffer(b, 0, array.buffer, array.byteOffset, array.byteLength);
      return b;
    };
    const cross = m.crossAttention ? this.#crossSource(conditions, own, make, upload) : null;
    const bind = this.mainLayers.map((u, l) => {
      const k = make(`keys ${l}`);
      const v = make(`values ${l}`);
      return {
        rope: this.up.bind(this.pipes.rope_write, [io.qkv, k, v, this.ropeMain, this.frameBuf, this.mirror, u.rope]),
        attn: this.up.bind(this.pipes.attention, [io.qkv, k, v, io.attn, this.scores, this.frameBuf, u.attn]),
        cross: cross && this.up.bind(this.pipes.attention, [io.qkv, cross.keys[l], cross.values[l], io.attn, cross.scores, this.frameBuf, cross.uniform]),
      };
    });
    const sum = conditions?.sum ? [{
      pipeline: this.pipes.add, x: Math.ceil(m.dim / 64), y: 1,
      bind: this.up.bind(this.pipes.add, [io.x, upload('condition sum', this.#checked(conditions.sum, m.dim, 'sum')), this.sumUniform]),
    }] : [];
    const layerOps = this.mainLayers_.map((op) => (op.bind.slot ? { ...op, bind: bind[op.bind.l][op.bind.slot] } : op));
    return { pos: 0, own, ops: [...this.mainEmbed, ...sum, ...this.mainSin, ...layerOps, ...this.mainPost] };
  }

  #checked(array, length, what) {
    if (!(array instanceof Float32Array) || array.length !== length) {
      throw new Error(`conditions ${what}: expected a Float32Array of ${length} values, got ${array?.length}`);
    }
    return array;
  }

  // Each layer's cross-attention keys and values [heads, S, head_dim] on the device.
  #crossSource(conditions, own, make, upload) {
    const m = this.config.main;
    const S = conditions.crossLength;
    if (!Number.isInteger(S) || S < 1) throw new Error(`conditions: crossLength must be an integer >= 1, got ${S}`);
    const n = m.numHeads * S * m.headDim;
    const layer = (list, l, what) => upload(`cross ${what} ${l}`, this.#checked(list?.[l], n, `${what} of layer ${l}`));
    return {
      keys: this.mainLayers.map((_, l) => layer(conditions.crossKeys, l, 'keys')),
      values: this.mainLayers.map((_, l) => layer(conditions.crossValues, l, 'values')),
      scores: make('cross scores', m.numHeads * S * 4),
      uniform: this.passes.crossUniform(m, S, own),
    };
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
  // textSample?: logits => token, audioSample?: (logits, k) => token, depformer: bool,
  // codebooks?: the Depformer positions run (default dep_q), debug: bool}. With textSample the
  // Depformer reads the token it returns (a session's rule, e.g. the TTS state machine).
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
    const Q = req.depformer ? req.codebooks || this.Q : 0;
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
    this.up.destroy();
  }
}
