// WGSL kernels of self-attention (kernels.js compiles them): RoPE with the KV-cache write, and
// the attention of one query position over the cache.

// Rotates q and k (RoPE: interleaved pairs or the concat halves; cos/sin from `table`), writes
// k and v into the KV cache at the slot, and (main transformer) into the mirror rows JS reads
// back. One thread per head vector.
export const ROPE_WRITE = /* wgsl */ `
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
export const ATTENTION = /* wgsl */ `
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
