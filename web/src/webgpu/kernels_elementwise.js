// WGSL kernels of the embeddings, norms and element-wise steps (kernels.js compiles them): the
// embedding gather-sum, RMSNorm/LayerNorm, the FFN gate, the extra heads' softmax, argmax and
// the positional-embedding add.

// Sum of one embedding row per stream (Kyutai's embedding sum; token -1 adds nothing).
// Tables (f32 or bf16 elements) are packed into one buffer per group; each entry names the
// stream whose token it reads, the rows it holds and its element offset. Modes 1 and 2 read
// the first and second stream of a demultiplexed token (demux_second_stream: token =
// (second + 1) * card + first; a second of -1 reads no row).
export const GATHER = /* wgsl */ `
struct Entry { stream: u32, row0: u32, rows: u32, offset: u32, bf16: u32, _a: u32, _b: u32, _c: u32 }
struct P { count: u32, width: u32, accumulate: u32, token_base: u32, mode: u32, card: u32, _a: u32, _b: u32 }
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
    var tok = tokens[p.token_base + en.stream];
    if (p.mode != 0u && tok >= 0) { tok = select(tok / i32(p.card) - 1, tok % i32(p.card), p.mode == 1u); }
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
export const NORM = /* wgsl */ `
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

// act(a) * b for a gated FFN ([a | b] = linear_in(x)), or act(a) for the plain MLP.
export const GATE = /* wgsl */ `
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
export const SOFTMAX = /* wgsl */ `
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
export const ARGMAX = /* wgsl */ `
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
export const ADD = /* wgsl */ `
struct P { n: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.n) { x[g.x] += v[g.x]; }
}
`;
