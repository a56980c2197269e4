// WGSL compute kernels of the WebGPU backend and their pipelines (one set per device).
//
// Every kernel reads its sizes from a small uniform block (padded to 16-byte multiples) and,
// where a value changes from frame to frame (the KV-cache slot, the number of visible keys,
// which sampled tokens feed the Depformer), from the `frame` storage buffer that JS rewrites
// before each submit. Matrix-vector products read the engine's packed weights as they are
// (src/kernels/packed_matrix.h): panels of 16 output rows; f32 / bf16 store, for each input
// k, the 16 rows' values side by side; q8 stores per input pair (k, k+1) 32 bytes (q, or
// q + 128 for rows 0..3 and 8..11) with one scale per row; q4 has one scale per (row, block of
// 32 inputs) and two orders: Lanes, per pair 16 bytes of nibbles, q + 8 except rows 12..15,
// which hold q as a signed nibble; Bytes (the relaxed-SIMD builds), per 4 inputs 32 bytes, all
// q + 8.

// Frame buffer (u32): [0] keys visible to the main attention, [1] main KV-cache slot,
// [2] flags: bit 0 = text argmax feeds the Depformer, bit 1 = audio argmax feeds the next
// Depformer position.
export const FRAME_WORDS = 4;
export const FLAG_TEXT_CHAIN = 1;
export const FLAG_AUDIO_CHAIN = 2;

// Activation ids (gate kernel); "none" gating is a plain GELU MLP.
export const ACTIVATIONS = ['gelu', 'silu', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'mish', 'softsign', 'identity'];

const MATVEC_HEAD = /* wgsl */ `
struct P { in_: u32, out: u32, panel0: u32, panels: u32, x_off: u32, y_off: u32, flags: u32, in_padded: u32, blocks: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scales: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> lscale: array<f32>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> part: array<vec4<f32>, 256>;

fn xin(k: u32) -> f32 {
  if (k < p.in_) { return x[p.x_off + k]; }
  return 0.0;
}

// Sums the 64 threads' partial rows and writes the panel's outputs with the epilogue:
// flags 1 = add bias, 2 = accumulate into y (residual), 4 = per-channel layer scale.
fn finish(t: u32, panel: u32, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) {
  part[t * 4u] = a0;
  part[t * 4u + 1u] = a1;
  part[t * 4u + 2u] = a2;
  part[t * 4u + 3u] = a3;
  workgroupBarrier();
  if (t < 16u) {
    var s = 0.0;
    let q = t / 4u;
    let c = t % 4u;
    for (var j = 0u; j < 64u; j++) { s += part[j * 4u + q][c]; }
    let row = (p.panel0 + panel) * 16u + t;
    if (row < p.out) {
      var v = s * rowscale(panel, t);
      if ((p.flags & 1u) != 0u) { v += bias[row]; }
      if ((p.flags & 4u) != 0u) { v *= lscale[row]; }
      if ((p.flags & 2u) != 0u) { v += y[p.y_off + row]; }
      y[p.y_off + row] = v;
    }
  }
}
`;

const MATVEC_F32 = MATVEC_HEAD + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
fn rowscale(panel: u32, r: u32) -> f32 { return select(1.0, scales[0][0], false); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let panel = wg.x + wg.y * nwg.x;
  if (panel >= p.panels) { return; }
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  let base = panel * p.in_ * 4u;
  for (var k = t; k < p.in_; k += 64u) {
    let xv = x[p.x_off + k];
    let o = base + k * 4u;
    a0 += w[o] * xv; a1 += w[o + 1u] * xv; a2 += w[o + 2u] * xv; a3 += w[o + 3u] * xv;
  }
  finish(t, panel, a0, a1, a2, a3);
}
`;

const MATVEC_BF16 = MATVEC_HEAD + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn rowscale(panel: u32, r: u32) -> f32 { return select(1.0, scales[0][0], false); }
fn two(v: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(v << 16u), bitcast<f32>(v & 0xffff0000u)); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let panel = wg.x + wg.y * nwg.x;
  if (panel >= p.panels) { return; }
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  let base = panel * p.in_ * 8u;
  for (var k = t; k < p.in_; k += 64u) {
    let xv = x[p.x_off + k];
    let o = base + k * 8u;
    a0 += vec4<f32>(two(w[o]), two(w[o + 1u])) * xv;
    a1 += vec4<f32>(two(w[o + 2u]), two(w[o + 3u])) * xv;
    a2 += vec4<f32>(two(w[o + 4u]), two(w[o + 5u])) * xv;
    a3 += vec4<f32>(two(w[o + 6u]), two(w[o + 7u])) * xv;
  }
  finish(t, panel, a0, a1, a2, a3);
}
`;

const MATVEC_Q8 = MATVEC_HEAD + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn rowscale(panel: u32, r: u32) -> f32 { return scales[panel * 4u + r / 4u][r % 4u]; }
fn s8(v: u32, b: u32) -> f32 { return f32(extractBits(bitcast<i32>(v), b, 8u)); }
fn b8(v: u32, b: u32) -> f32 { return f32(extractBits(v, b, 8u)) - 128.0; }
// Word i of each 16-byte half h holds, from its low byte up, row 8h + i at k (as q + 128),
// row 8h + 4 + i at k (q), then the same two rows at k + 1. s = 0 selects k, s = 16 k + 1.
fn lo(a: u32, b: u32, c: u32, d: u32, s: u32) -> vec4<f32> { return vec4<f32>(b8(a, s), b8(b, s), b8(c, s), b8(d, s)); }
fn hi(a: u32, b: u32, c: u32, d: u32, s: u32) -> vec4<f32> { return vec4<f32>(s8(a, 8u + s), s8(b, 8u + s), s8(c, 8u + s), s8(d, 8u + s)); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let panel = wg.x + wg.y * nwg.x;
  if (panel >= p.panels) { return; }
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  let base = panel * p.in_padded * 4u;
  let pairs = p.in_padded / 2u;
  for (var q = t; q < pairs; q += 64u) {
    let x0 = xin(2u * q);
    let x1 = xin(2u * q + 1u);
    let o = base + q * 8u;
    let w0 = w[o]; let w1 = w[o + 1u]; let w2 = w[o + 2u]; let w3 = w[o + 3u];
    let w4 = w[o + 4u]; let w5 = w[o + 5u]; let w6 = w[o + 6u]; let w7 = w[o + 7u];
    a0 += lo(w0, w1, w2, w3, 0u) * x0 + lo(w0, w1, w2, w3, 16u) * x1;
    a1 += hi(w0, w1, w2, w3, 0u) * x0 + hi(w0, w1, w2, w3, 16u) * x1;
    a2 += lo(w4, w5, w6, w7, 0u) * x0 + lo(w4, w5, w6, w7, 16u) * x1;
    a3 += hi(w4, w5, w6, w7, 0u) * x0 + hi(w4, w5, w6, w7, 16u) * x1;
  }
  finish(t, panel, a0, a1, a2, a3);
}
`;

// The 4-bit kernels take the activations as the engine's do (src/kernels/gemm.h): scale =
// max|x| / 127, each value rounded to the nearest integer (ties to even) and clamped, the
// product multiplied by the scale at the end. So both give the same sums, instead of the
// engine's 8-bit rounding showing as differences of 1e-1 on the self-test model.
const Q4_ACTIVATIONS = /* wgsl */ `
var<workgroup> xmax: array<f32, 64>;
fn activation_scale(t: u32) -> f32 {
  var m = 0.0;
  for (var k = t; k < p.in_; k += 64u) { m = max(m, abs(x[p.x_off + k])); }
  xmax[t] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) { xmax[t] = max(xmax[t], xmax[t + s]); }
    workgroupBarrier();
  }
  let amax = xmax[0];
  return select(1.0, amax / 127.0, amax > 0.0);
}
fn xq(k: u32, inv: f32) -> f32 { return clamp(round(xin(k) * inv), -127.0, 127.0); }
`;

// A 4-bit kernel for one packed order: `decode` adds that order's helpers, `block` the loop that
// adds block b's products into s0..s3 (rows 0-3, 4-7, 8-11, 12-15 of the panel).
const matvecQ4 = (decode, block) => MATVEC_HEAD + Q4_ACTIVATIONS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn rowscale(panel: u32, r: u32) -> f32 { return select(1.0, scales[0][0], false); }
fn u4(v: u32, b: u32) -> f32 { return f32(extractBits(v, b, 4u)) - 8.0; }
fn rows(w0: u32, w1: u32, w2: u32, w3: u32, b: u32) -> vec4<f32> { return vec4<f32>(u4(w0, b), u4(w1, b), u4(w2, b), u4(w3, b)); }
${decode}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let panel = wg.x + wg.y * nwg.x;
  if (panel >= p.panels) { return; }
  let sx = activation_scale(t);
  let inv = 1.0 / sx;
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  let base = panel * p.in_padded * 2u;
  for (var b = t; b < p.blocks; b += 64u) {
    var s0 = vec4<f32>(0.0); var s1 = vec4<f32>(0.0); var s2 = vec4<f32>(0.0); var s3 = vec4<f32>(0.0);
${block}
    let sc = (panel * p.blocks + b) * 4u;
    a0 += s0 * scales[sc]; a1 += s1 * scales[sc + 1u]; a2 += s2 * scales[sc + 2u]; a3 += s3 * scales[sc + 3u];
  }
  finish(t, panel, a0 * sx, a1 * sx, a2 * sx, a3 * sx);
}
`;

// The Lanes order: word i of a pair holds rows i, 4 + i, 8 + i and 12 + i at k in its nibbles
// 0..3 and at k + 1 in nibbles 4..7 (rows 4g..4g+3 are nibble g (k) or 4 + g (k + 1) of the four
// words); rows 12..15 are signed nibbles.
const MATVEC_Q4 = matvecQ4(/* wgsl */ `
fn s4(v: u32, b: u32) -> f32 { return f32(extractBits(bitcast<i32>(v), b, 4u)); }
fn rows_signed(w0: u32, w1: u32, w2: u32, w3: u32, b: u32) -> vec4<f32> { return vec4<f32>(s4(w0, b), s4(w1, b), s4(w2, b), s4(w3, b)); }`, /* wgsl */ `
    for (var j = 0u; j < 16u; j++) {
      let q = b * 16u + j;
      let x0 = xq(2u * q, inv);
      let x1 = xq(2u * q + 1u, inv);
      let o = base + q * 4u;
      let w0 = w[o]; let w1 = w[o + 1u]; let w2 = w[o + 2u]; let w3 = w[o + 3u];
      s0 += rows(w0, w1, w2, w3, 0u) * x0 + rows(w0, w1, w2, w3, 16u) * x1;
      s1 += rows(w0, w1, w2, w3, 4u) * x0 + rows(w0, w1, w2, w3, 20u) * x1;
      s2 += rows(w0, w1, w2, w3, 8u) * x0 + rows(w0, w1, w2, w3, 24u) * x1;
      s3 += rows_signed(w0, w1, w2, w3, 12u) * x0 + rows_signed(w0, w1, w2, w3, 28u) * x1;
    }`);

// The Bytes order: per 4 inputs 8 words; word i < 4 holds row i in its low nibbles and row 4 + i
// in its high ones, input 4s + j in byte j; words 4..7 likewise rows 8 + i and 12 + i.
const MATVEC_Q4_BYTES = matvecQ4('', /* wgsl */ `
    for (var st = 0u; st < 8u; st++) {
      let q = b * 8u + st;
      let o = base + q * 8u;
      let w0 = w[o]; let w1 = w[o + 1u]; let w2 = w[o + 2u]; let w3 = w[o + 3u];
      let w4 = w[o + 4u]; let w5 = w[o + 5u]; let w6 = w[o + 6u]; let w7 = w[o + 7u];
      for (var j = 0u; j < 4u; j++) {
        let xj = xq(4u * q + j, inv);
        s0 += rows(w0, w1, w2, w3, 8u * j) * xj;
        s1 += rows(w0, w1, w2, w3, 8u * j + 4u) * xj;
        s2 += rows(w4, w5, w6, w7, 8u * j) * xj;
        s3 += rows(w4, w5, w6, w7, 8u * j + 4u) * xj;
      }
    }`);

// Sum of one embedding row per stream (Kyutai's embedding sum; token -1 adds nothing).
// Tables (f32 or bf16 elements) are packed into one buffer per group; each entry names the
// stream whose token it reads, the rows it holds and its element offset.
const GATHER = /* wgsl */ `
struct Entry { stream: u32, row0: u32, rows: u32, offset: u32, bf16: u32, _a: u32, _b: u32, _c: u32 }
struct P { count: u32, width: u32, accumulate: u32, token_base: u32 }
@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> entries: array<Entry>;
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x;
  if (i >= p.width) { return; }
  var s = 0.0;
  if (p.accumulate != 0u) { s = out[i]; }
  for (var e = 0u; e < p.count; e++) {
    let en = entries[e];
    let tok = tokens[p.token_base + en.stream];
    if (tok < i32(en.row0) || tok >= i32(en.row0 + en.rows)) { continue; }
    let idx = en.offset + (u32(tok) - en.row0) * p.width + i;
    if (en.bf16 != 0u) {
      let v = table[idx >> 1u];
      s += bitcast<f32>(select(v << 16u, v & 0xffff0000u, (idx & 1u) == 1u));
    } else {
      s += bitcast<f32>(table[idx]);
    }
  }
  out[i] = s;
}
`;

// RMSNorm (x * alpha / sqrt(mean(x^2) + eps)) or LayerNorm ((x - mean) / sqrt(var + eps) *
// weight + bias), one workgroup per vector.
const NORM = /* wgsl */ `
struct P { n: u32, rms: u32, x_off: u32, y_off: u32, eps: f32, has_bias: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
fn reduce(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s / 2u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  let n = p.n;
  if (p.rms != 0u) {
    var s = 0.0;
    for (var i = t; i < n; i += 256u) { let v = x[p.x_off + i]; s += v * v; }
    let inv = 1.0 / sqrt(reduce(t, s) / f32(n) + p.eps);
    for (var i = t; i < n; i += 256u) { y[p.y_off + i] = x[p.x_off + i] * (weight[i] * inv); }
  } else {
    var s = 0.0;
    for (var i = t; i < n; i += 256u) { s += x[p.x_off + i]; }
    let mean = reduce(t, s) / f32(n);
    var q = 0.0;
    for (var i = t; i < n; i += 256u) { let d = x[p.x_off + i] - mean; q += d * d; }
    let inv = 1.0 / sqrt(reduce(t, q) / f32(n) + p.eps);
    for (var i = t; i < n; i += 256u) {
      var v = (x[p.x_off + i] - mean) * inv * weight[i];
      if (p.has_bias != 0u) { v += bias[i]; }
      y[p.y_off + i] = v;
    }
  }
}
`;

// Rotates q and k (RoPE: interleaved pairs or the concat halves; cos/sin from `table`), writes
// k and v into the KV cache at the slot, and (main transformer) into the mirror rows JS reads
// back. One thread per head vector.
const ROPE_WRITE = /* wgsl */ `
struct P { heads: u32, kv_heads: u32, dh: u32, cap: u32, mode: u32, slot_fixed: u32, mirror: u32, mirror_off: u32 }
@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read> frame: array<u32>;
@group(0) @binding(5) var<storage, read_write> mirror: array<f32>;
@group(0) @binding(6) var<uniform> p: P;
fn rotate(base: u32) {
  if (p.mode == 0u) { return; }
  let hd = p.dh / 2u;
  for (var i = 0u; i < hd; i++) {
    var a = base + 2u * i;
    var b = a + 1u;
    if (p.mode == 2u) { a = base + i; b = base + i + hd; }
    let c = table[2u * i];
    let s = table[2u * i + 1u];
    let r = qkv[a];
    let m = qkv[b];
    qkv[a] = r * c - m * s;
    qkv[b] = r * s + m * c;
  }
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let v = g.x;
  let H = p.heads;
  let KH = p.kv_heads;
  if (v >= H + 2u * KH) { return; }
  let dh = p.dh;
  let slot = select(frame[1], p.slot_fixed, p.slot_fixed != 0xffffffffu);
  if (v < H) { rotate(v * dh); return; }
  if (v < H + KH) {
    let h = v - H;
    let src = (H + h) * dh;
    rotate(src);
    let dst = (h * p.cap + slot) * dh;
    for (var d = 0u; d < dh; d++) {
      kc[dst + d] = qkv[src + d];
      if (p.mirror != 0u) { mirror[p.mirror_off + h * dh + d] = qkv[src + d]; }
    }
    return;
  }
  let h = v - H - KH;
  let src = (H + KH + h) * dh;
  let dst = (h * p.cap + slot) * dh;
  for (var d = 0u; d < dh; d++) {
    vc[dst + d] = qkv[src + d];
    if (p.mirror != 0u) { mirror[p.mirror_off + (KH + h) * dh + d] = qkv[src + d]; }
  }
}
`;

// Attention of one query position over the first n cache slots (the ring holds exactly the
// visible window), one workgroup per head; query head h reads KV head h / kv_repeat.
const ATTENTION = /* wgsl */ `
struct P { heads: u32, kv_heads: u32, dh: u32, cap: u32, rep: u32, n_fixed: u32, scale: f32, _a: u32 }
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<f32>;
@group(0) @binding(2) var<storage, read> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read> frame: array<u32>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wg.x;
  let dh = p.dh;
  let kh = h / p.rep;
  let n = select(frame[0], p.n_fixed, p.n_fixed > 0u);
  let q = h * dh;
  let sbase = h * p.cap;
  var m = -3.4e38;
  for (var s = t; s < n; s += 64u) {
    let k = (kh * p.cap + s) * dh;
    var d = 0.0;
    for (var i = 0u; i < dh; i++) { d += qkv[q + i] * kc[k + i]; }
    let score = d * p.scale;
    scores[sbase + s] = score;
    m = max(m, score);
  }
  red[t] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s / 2u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var s = t; s < n; s += 64u) {
    let e = exp(scores[sbase + s] - mx);
    scores[sbase + s] = e;
    sum += e;
  }
  red[t] = sum;
  storageBarrier();
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s / 2u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var d = t; d < dh; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s < n; s++) { acc += scores[sbase + s] * vc[(kh * p.cap + s) * dh + d]; }
    out[q + d] = acc * inv;
  }
}
`;

// act(a) * b for a gated FFN ([a | b] = linear_in(x)), or act(a) for the plain MLP.
const GATE = /* wgsl */ `
struct P { hidden: u32, act: u32, gated: u32, _a: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}
fn tanh_(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
fn act(x: f32) -> f32 {
  switch (p.act) {
    case 0u: { return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }
    case 1u: { return x / (1.0 + exp(-x)); }
    case 2u: { return 1.0 / (1.0 + exp(-x)); }
    case 3u: { return tanh_(x); }
    case 4u: { return max(x, 0.0); }
    case 5u: { return select(0.01 * x, x, x > 0.0); }
    case 6u: { return select(exp(x) - 1.0, x, x > 0.0); }
    case 7u: {
      let sp = select(log(1.0 + exp(x)), x, x > 20.0);
      return x * tanh_(sp);
    }
    case 8u: { return x / (1.0 + abs(x)); }
    default: { return x; }
  }
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x;
  if (i >= p.hidden) { return; }
  var v = act(src[i]);
  if (p.gated != 0u) { v *= src[p.hidden + i]; }
  dst[i] = v;
}
`;

// Softmax of each extra head's logits (the semantic-VAD probabilities).
const SOFTMAX = /* wgsl */ `
struct P { heads: u32, width: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let h = g.x;
  if (h >= p.heads) { return; }
  let b = h * p.width;
  var m = -3.4e38;
  for (var i = 0u; i < p.width; i++) { m = max(m, src[b + i]); }
  var sum = 0.0;
  for (var i = 0u; i < p.width; i++) { let e = exp(src[b + i] - m); dst[b + i] = e; sum += e; }
  let inv = 1.0 / sum;
  for (var i = 0u; i < p.width; i++) { dst[b + i] = dst[b + i] * inv; }
}
`;

// First index of the maximum (torch.argmax); writes it to tokens[sampled] and, when the
// frame flag bit is set, to tokens[chain] (the next Depformer position's input).
const ARGMAX = /* wgsl */ `
struct P { n: u32, x_off: u32, sampled: u32, chain: u32, bit: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> frame: array<u32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  var best = -3.4e38;
  var idx = 0xffffffffu;
  for (var i = t; i < p.n; i += 256u) {
    let v = x[p.x_off + i];
    if (idx == 0xffffffffu || v > best) { best = v; idx = i; }
  }
  bv[t] = best;
  bi[t] = idx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s / 2u) {
    if (t < s) {
      let oi = bi[t + s];
      let ov = bv[t + s];
      if (oi != 0xffffffffu && (bi[t] == 0xffffffffu || ov > bv[t] || (ov == bv[t] && oi < bi[t]))) { bv[t] = ov; bi[t] = oi; }
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let r = i32(bi[0]);
    tokens[p.sampled] = r;
    if ((frame[2] & p.bit) != 0u) { tokens[p.chain] = r; }
  }
}
`;

// x += v (the sinusoidal positional embedding, precomputed by JS).
const ADD = /* wgsl */ `
struct P { n: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.n) { x[g.x] += v[g.x]; }
}
`;

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
