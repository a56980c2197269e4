// WGSL matrix-vector products over the engine's packed weights, one kernel per weight format
// (kernels.js compiles them). They read the panels as they are (src/kernels/packed_matrix.h):
// panels of 16 output rows; f32 / bf16 store, for each input k, the 16 rows' values side by
// side. The quantized formats have one scale per (row, block of 32 inputs): q8 stores per input
// pair (k, k+1) 32 bytes (q, or q + 128 for rows 0..3 and 8..11), and after a block's 16 pairs
// its 16 scales (f32, in the weights' buffer); q4 (Q4_K, w = s c - mn) keeps its scales in a
// buffer of their own, with a min per (row, block) after the block's 16 scales, and has two
// orders of its codes c: Lanes, per pair 16 bytes of nibbles, c except rows 12..15, which hold
// c - 8 as a signed nibble; Bytes (the relaxed-SIMD builds), per 4 inputs 32 bytes, all c.

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

export const MATVEC_F32 = MATVEC_HEAD + /* wgsl */ `
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

export const MATVEC_BF16 = MATVEC_HEAD + /* wgsl */ `
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

// The quantized kernels take the activations as the engine's do (src/kernels/gemm.h): per block
// of 32 inputs, scale = max|x| / maxQ (32767 for q8, 127 for q4), each value rounded to the
// nearest integer (ties to even) and clamped; each block's integer sums are multiplied by
// (weight scale x activation scale). So both give the same sums, instead of the engine's
// rounding showing as differences of 1e-1 on the self-test model. One thread takes whole blocks.
const blockActivations = (maxQ) => /* wgsl */ `
fn block_scale(b: u32) -> f32 {
  var m = 0.0;
  for (var k = b * 32u; k < b * 32u + 32u; k++) { m = max(m, abs(xin(k))); }
  return select(1.0, m / ${maxQ}.0, m > 0.0);
}
fn xq(k: u32, inv: f32) -> f32 { return clamp(round(xin(k) * inv), -${maxQ}.0, ${maxQ}.0); }
`;

// A quantized kernel: `decode` adds the format's helpers, `block` the loop that adds block b's
// integer products into s0..s3 (rows 0-3, 4-7, 8-11, 12-15 of the panel) and its activations
// into xs (its words start at w[o0]); `blockWords` is a block's u32 words in a panel (144 for
// q8: 128 of weights, then 16 scales; 64 for q4), `maxQ` the activations' range. With `mins`
// (q4) each block holds 8 vec4 in `scales`: the rows' scales, then their mins, which take
// mn (sx sum(x)) off each row.
const matvecQuantized = (decode, block, blockWords, maxQ, mins = false) => MATVEC_HEAD + blockActivations(maxQ) + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn rowscale(panel: u32, r: u32) -> f32 { return select(1.0, scales[0][0], false); }
${mins ? `fn scale4(panel: u32, b: u32, o0: u32, i: u32) -> vec4<f32> { return scales[(panel * p.blocks + b) * 8u + i]; }` : `
// The rows 4i..4i+3 of the block's scales, after its weights.
fn scale4(panel: u32, b: u32, o0: u32, i: u32) -> vec4<f32> {
  let s = o0 + 128u + 4u * i;
  return vec4<f32>(bitcast<f32>(w[s]), bitcast<f32>(w[s + 1u]), bitcast<f32>(w[s + 2u]), bitcast<f32>(w[s + 3u]));
}`}
${decode}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let panel = wg.x + wg.y * nwg.x;
  if (panel >= p.panels) { return; }
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  let base = panel * p.blocks * ${blockWords}u;
  for (var b = t; b < p.blocks; b += 64u) {
    let o0 = base + b * ${blockWords}u;
    let sx = block_scale(b);
    let inv = 1.0 / sx;
    var s0 = vec4<f32>(0.0); var s1 = vec4<f32>(0.0); var s2 = vec4<f32>(0.0); var s3 = vec4<f32>(0.0);
    var xs = 0.0;
${block}
    a0 += s0 * (scale4(panel, b, o0, 0u) * sx); a1 += s1 * (scale4(panel, b, o0, 1u) * sx);
    a2 += s2 * (scale4(panel, b, o0, 2u) * sx); a3 += s3 * (scale4(panel, b, o0, 3u) * sx);${mins ? `
    let t = sx * xs;
    a0 -= scale4(panel, b, o0, 4u) * t; a1 -= scale4(panel, b, o0, 5u) * t;
    a2 -= scale4(panel, b, o0, 6u) * t; a3 -= scale4(panel, b, o0, 7u) * t;` : ''}
  }
  finish(t, panel, a0, a1, a2, a3);
}
`;

// The loop over block b's 16 input pairs of the orders stored per pair (q8, q4 Lanes): the pair's
// two activations x0, x1 and its `words` u32 words w0, w1, ...; `body` adds their products.
const pairLoop = (words, body) => /* wgsl */ `
    for (var j = 0u; j < 16u; j++) {
      let q = b * 16u + j;
      let x0 = xq(2u * q, inv);
      let x1 = xq(2u * q + 1u, inv);
      xs += x0 + x1;
      let o = o0 + j * ${words}u;
      ${Array.from({ length: words }, (_, i) => `let w${i} = w[o + ${i}u];`).join(' ')}
${body}
    }`;

// Word i of each 16-byte half h holds, from its low byte up, row 8h + i at k (as q + 128),
// row 8h + 4 + i at k (q), then the same two rows at k + 1. s = 0 selects k, s = 16 k + 1.
export const MATVEC_Q8 = matvecQuantized(/* wgsl */ `
fn s8(v: u32, b: u32) -> f32 { return f32(extractBits(bitcast<i32>(v), b, 8u)); }
fn b8(v: u32, b: u32) -> f32 { return f32(extractBits(v, b, 8u)) - 128.0; }
fn lo(a: u32, b: u32, c: u32, d: u32, s: u32) -> vec4<f32> { return vec4<f32>(b8(a, s), b8(b, s), b8(c, s), b8(d, s)); }
fn hi(a: u32, b: u32, c: u32, d: u32, s: u32) -> vec4<f32> { return vec4<f32>(s8(a, 8u + s), s8(b, 8u + s), s8(c, 8u + s), s8(d, 8u + s)); }`, pairLoop(8, /* wgsl */ `
      s0 += lo(w0, w1, w2, w3, 0u) * x0 + lo(w0, w1, w2, w3, 16u) * x1;
      s1 += hi(w0, w1, w2, w3, 0u) * x0 + hi(w0, w1, w2, w3, 16u) * x1;
      s2 += lo(w4, w5, w6, w7, 0u) * x0 + lo(w4, w5, w6, w7, 16u) * x1;
      s3 += hi(w4, w5, w6, w7, 0u) * x0 + hi(w4, w5, w6, w7, 16u) * x1;`), 144, 32767);

// The 4-bit kernels: one per packed order (Q4Layout).
const matvecQ4 = (decode, block) => matvecQuantized(/* wgsl */ `
fn u4(v: u32, b: u32) -> f32 { return f32(extractBits(v, b, 4u)); }
fn rows(w0: u32, w1: u32, w2: u32, w3: u32, b: u32) -> vec4<f32> { return vec4<f32>(u4(w0, b), u4(w1, b), u4(w2, b), u4(w3, b)); }
${decode}`, block, 64, 127, true);

// The Lanes order: word i of a pair holds rows i, 4 + i, 8 + i and 12 + i at k in its nibbles
// 0..3 and at k + 1 in nibbles 4..7 (rows 4g..4g+3 are nibble g (k) or 4 + g (k + 1) of the four
// words); rows 12..15 hold c - 8 as signed nibbles.
export const MATVEC_Q4 = matvecQ4(/* wgsl */ `
fn s4(v: u32, b: u32) -> f32 { return f32(extractBits(bitcast<i32>(v), b, 4u)) + 8.0; }
fn rows_signed(w0: u32, w1: u32, w2: u32, w3: u32, b: u32) -> vec4<f32> { return vec4<f32>(s4(w0, b), s4(w1, b), s4(w2, b), s4(w3, b)); }`, pairLoop(4, /* wgsl */ `
      s0 += rows(w0, w1, w2, w3, 0u) * x0 + rows(w0, w1, w2, w3, 16u) * x1;
      s1 += rows(w0, w1, w2, w3, 4u) * x0 + rows(w0, w1, w2, w3, 20u) * x1;
      s2 += rows(w0, w1, w2, w3, 8u) * x0 + rows(w0, w1, w2, w3, 24u) * x1;
      s3 += rows_signed(w0, w1, w2, w3, 12u) * x0 + rows_signed(w0, w1, w2, w3, 28u) * x1;`));

// The Bytes order: per 4 inputs 8 words; word i < 4 holds row i in its low nibbles and row 4 + i
// in its high ones, input 4s + j in byte j; words 4..7 likewise rows 8 + i and 12 + i.
export const MATVEC_Q4_BYTES = matvecQ4('', /* wgsl */ `
    for (var st = 0u; st < 8u; st++) {
      let q = b * 8u + st;
      let o = o0 + st * 8u;
      let w0 = w[o]; let w1 = w[o + 1u]; let w2 = w[o + 2u]; let w3 = w[o + 3u];
      let w4 = w[o + 4u]; let w5 = w[o + 5u]; let w6 = w[o + 6u]; let w7 = w[o + 7u];
      for (var j = 0u; j < 4u; j++) {
        let xj = xq(4u * q + j, inv);
        xs += xj;
        s0 += rows(w0, w1, w2, w3, 8u * j) * xj;
        s1 += rows(w0, w1, w2, w3, 8u * j + 4u) * xj;
        s2 += rows(w4, w5, w6, w7, 8u * j) * xj;
        s3 += rows(w4, w5, w6, w7, 8u * j + 4u) * xj;
      }
    }`);
