// WebAssembly SIMD128 matrix products over the packed layouts (see packed_matrix.h).
// Each output keeps the scalar kernel's summation order, so results match it exactly.
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/bf16_simd128.h"
#include "kernels/gemm.h"
#include "kernels/gemm_relaxed.h"

namespace kyutai::simd128 {

namespace {

// The f32 and bf16 kernels compute NP panels side by side, NP = 2 where the layer has a pair
// left and its panels are large (see pair_panels): two sequential weight streams keep more DRAM
// reads in flight than one. On the AMD EPYC VM this took f32 from ~22 to ~25 GB/s; on the
// Intel Xeon VM (9-11 GB/s per core) the cold GEMV 2048x5632 took 0.78x (q8), 0.78x (q4),
// 0.80x (q4 relaxed) and 0.76x (bf16) of the one-panel time (geometric means of 5-8
// alternating pairs), reaching 83-100% of the in-place read where one panel reached 64-72%.
// Hot (L2) times stay within noise. Where two panels' sums would not fit V8's 16 vector
// registers (two activation rows, Q8), the two panels take turns instead, their sums waiting
// in `out`; the Q4 kernels, bound by their instructions, take one panel at a time. Each
// output's summation order is the same either way.
template <int NP>
void panel_f32(const float* panel, size_t stride, int in, const float* x, float* out) {
  v128_t a[NP][4];
  for (auto& p : a)
    for (auto& v : p) v = wasm_f32x4_splat(0);
  for (int k = 0; k < in; ++k) {
    const v128_t xv = wasm_f32x4_splat(x[k]);
    for (int p = 0; p < NP; ++p) {
      const float* w = panel + p * stride + size_t(k) * kPanel;
      for (int j = 0; j < 4; ++j) a[p][j] = wasm_f32x4_add(a[p][j], wasm_f32x4_mul(wasm_v128_load(w + 4 * j), xv));
    }
  }
  for (int p = 0; p < NP; ++p)
    for (int j = 0; j < 4; ++j) wasm_v128_store(out + p * kPanel + 4 * j, a[p][j]);
}

// Two activation rows against NP panels: each weight vector loaded once serves both rows, so
// a layer run on a few rows at once (Mimi's transformers take 2 steps per frame) reads its
// weights once instead of once per row. 8 accumulators, 4 weights and 2 splats fit V8's 16
// vector registers; a second panel's would not. So with NP = 2 the panels take turns, kChunk
// inputs each, their sums waiting in `out` meanwhile: two weight streams keep more reads in
// flight than one (each output still sums its inputs in order). Cold 512x2048, 2048x512 and
// 512x1536 on the AMD EPYC VM, one process, 4 rounds: 11.6 / 12.0 / 10.9 GB/s one panel at a
// time, 13.5 / 15.1 / 13.9 GB/s taking turns.
template <int NP>
void panel_f32_rows2(const float* panel, size_t stride, int in, const float* x0, const float* x1, float* out0,
                     float* out1) {
  constexpr int kChunk = 16;
  for (int j = 0; j < NP * kPanel; j += 4) {
    wasm_v128_store(out0 + j, wasm_f32x4_splat(0));
    wasm_v128_store(out1 + j, wasm_f32x4_splat(0));
  }
  for (int k0 = 0; k0 < in; k0 += kChunk) {
    const int k1 = std::min(in, k0 + kChunk);
    for (int p = 0; p < NP; ++p) {
      float* o0 = out0 + p * kPanel;
      float* o1 = out1 + p * kPanel;
      v128_t a[2][4];
      for (int j = 0; j < 4; ++j) a[0][j] = wasm_v128_load(o0 + 4 * j), a[1][j] = wasm_v128_load(o1 + 4 * j);
      for (int k = k0; k < k1; ++k) {
        const v128_t xv0 = wasm_v128_load32_splat(x0 + k), xv1 = wasm_v128_load32_splat(x1 + k);
        const float* w = panel + p * stride + size_t(k) * kPanel;
        for (int j = 0; j < 4; ++j) {
          const v128_t wv = wasm_v128_load(w + 4 * j);
          a[0][j] = wasm_f32x4_add(a[0][j], wasm_f32x4_mul(wv, xv0));
          a[1][j] = wasm_f32x4_add(a[1][j], wasm_f32x4_mul(wv, xv1));
        }
      }
      for (int j = 0; j < 4; ++j) wasm_v128_store(o0 + 4 * j, a[0][j]), wasm_v128_store(o1 + 4 * j, a[1][j]);
    }
  }
}

template <int NP>
void panel_bf16(const uint16_t* panel, size_t stride, int in, const float* x, float* out) {
  v128_t a[NP][4];
  for (auto& p : a)
    for (auto& v : p) v = wasm_f32x4_splat(0);
  for (int k = 0; k < in; ++k) {
    const v128_t xv = wasm_f32x4_splat(x[k]);
    for (int p = 0; p < NP; ++p) {
      const uint16_t* w = panel + p * stride + size_t(k) * kPanel;
      const v128_t lo = wasm_v128_load(w), hi = wasm_v128_load(w + 8);
      a[p][0] = wasm_f32x4_add(a[p][0], wasm_f32x4_mul(bf16_low(lo), xv));
      a[p][1] = wasm_f32x4_add(a[p][1], wasm_f32x4_mul(bf16_high(lo), xv));
      a[p][2] = wasm_f32x4_add(a[p][2], wasm_f32x4_mul(bf16_low(hi), xv));
      a[p][3] = wasm_f32x4_add(a[p][3], wasm_f32x4_mul(bf16_high(hi), xv));
    }
  }
  for (int p = 0; p < NP; ++p)
    for (int j = 0; j < 4; ++j) wasm_v128_store(out + p * kPanel + 4 * j, a[p][j]);
}

// The Q4 kernels run one panel at a time with the float sums in registers, Q8 two panels in
// turn (panels_q8): each block ends by adding its exact integer sums, times (weight scale x the
// block's activation scale), into four float vectors (the scalar kernel's order). Both take
// two k-pairs per loop iteration: V8 adds counter updates, an exit test and (every few
// iterations) a stack check to each iteration, so fewer iterations issue fewer instructions;
// unrolled further, clang groups the work by accumulator and V8 spills vectors.
inline void add_block(v128_t& f, v128_t sums, const float* scales, v128_t sx) {
  f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), wasm_f32x4_mul(wasm_v128_load(scales), sx)));
}

// Q4's w = s c - mn: the block's 16 mins times t = sx sum(x) come off the four float sums.
inline void sub_mins(v128_t* f, const float* mins, float t) {
  const v128_t tv = wasm_f32x4_splat(t);
  for (int i = 0; i < 4; ++i) f[i] = wasm_f32x4_sub(f[i], wasm_f32x4_mul(wasm_v128_load(mins + 4 * i), tv));
}

// An 8-bit k-pair is 32 bytes, two vectors of 8 16-bit lanes: lane 2i + (k % 2) of vector h
// holds row 8h + i in its low byte (as q + 128) and row 8h + 4 + i in its high byte (as q),
// so the lane read as a signed integer is low + 256 high (packed_matrix.h). Per vector one
// load and one arithmetic shift give both row groups without widening:
//   D0 = dot(lane), D1 = dot(lane >> 8) = the high rows' sum, low rows' sum = D0 - 256 D1,
// less the 128 sum(x) that the stored q + 128 added.
inline void q8_step(const uint8_t* w, const int16_t* x, v128_t& a0, v128_t& a1, v128_t& a2, v128_t& a3) {
  const v128_t xv = wasm_v128_load32_splat(x), v0 = wasm_v128_load(w), v1 = wasm_v128_load(w + 16);
  a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(v0, xv));
  a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(wasm_i16x8_shr(v0, 8), xv));
  a2 = wasm_i32x4_add(a2, wasm_i32x4_dot_i16x8(v1, xv));
  a3 = wasm_i32x4_add(a3, wasm_i32x4_dot_i16x8(wasm_i16x8_shr(v1, 8), xv));
}

// One block of one Q8 panel (w: its weights, then its 16 scales; x: its 32 activations) into the
// panel's sums f.
inline void block_q8(const uint8_t* w, const int16_t* x, int32_t block_sum, float sx, float* f) {
  static_assert(kQuantBlock % 4 == 0, "two k-pairs per iteration");
  const float* scales = reinterpret_cast<const float*>(w + kQ8BlockWeights);
  v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
#pragma clang loop unroll(disable)
  for (int j = 0; j < kQuantBlock / 2; j += 2, w += 64, x += 4) {
    q8_step(w, x, a0, a1, a2, a3);
    q8_step(w + 32, x + 2, a0, a1, a2, a3);
  }
  const v128_t offset = wasm_i32x4_splat(int32_t(128u * uint32_t(block_sum)));
  const v128_t t = wasm_f32x4_splat(sx);
  v128_t s[4];
  for (int i = 0; i < 4; ++i) s[i] = wasm_v128_load(f + 4 * i);
  add_block(s[0], wasm_i32x4_sub(wasm_i32x4_sub(a0, wasm_i32x4_shl(a1, 8)), offset), scales, t);
  add_block(s[1], a1, scales + 4, t);
  add_block(s[2], wasm_i32x4_sub(wasm_i32x4_sub(a2, wasm_i32x4_shl(a3, 8)), offset), scales + 8, t);
  add_block(s[3], a3, scales + 12, t);
  for (int i = 0; i < 4; ++i) wasm_v128_store(f + 4 * i, s[i]);
}

// NP Q8 panels (panel_bytes apart, each block followed by its scales) into
// out[NP * kPanel], block by block in turn: block b of the first panel, then block b of the
// second. Two weight streams keep more reads in flight than one; each panel's float sums wait
// in `out` meanwhile (one panel's integer accumulators, the weights and the activations fit
// V8's 16 vector registers; two panels' accumulators and float sums would not). Cold GEMVs on
// the AMD EPYC VM (13-17 GB/s read per core), one process, 5 rounds, one panel at a time with
// its float sums in registers against taking turns: 2048x5632 1.039 -> 0.941 ms, 5632x2048
// 1.104 -> 0.885 ms, 2048x2048 0.355 -> 0.326 ms. At 27-31 GB/s one panel at a time was the
// faster for 32 KB panels (2048 inputs), so pairs now need 64 KB panels (pair_panels). The Q4
// kernels, bound by their instructions, gained nothing (SIMD128) or lost 8-30% (relaxed SIMD)
// taking turns.
template <int NP>
void panels_q8(const uint8_t* w, size_t panel_bytes, int blocks, const int16_t* x, const int32_t* block_sums,
               const float* sx, float* out) {
  for (int i = 0; i < NP * kPanel; i += 4) wasm_v128_store(out + i, wasm_f32x4_splat(0));
  for (int b = 0; b < blocks; ++b)
    for (int q = 0; q < NP; ++q)
      block_q8(w + q * panel_bytes + b * kQ8BlockBytes, x + b * kQuantBlock, block_sums[b], sx[b], out + q * kPanel);
}

// A 4-bit k-pair is 16 bytes, 8 16-bit lanes: lane 2i + (k % 2) holds rows i, 4 + i, 8 + i and
// 12 + i from its low nibble up, the top one signed (packed_matrix.h). So one load and three
// arithmetic shifts give the four row groups without widening: lane >> 4s holds nibble s plus
// 16 times the lane above it. Their dot products with the activation pair, summed over a block,
//   D0 = dot(lane), D1 = dot(lane >> 4), D2 = dot(lane >> 8), D3 = dot(lane >> 12),
// give the row groups' sums as S3 = D3, S2 = D2 - 16 D3, S1 = D1 - 16 D2, S0 = D0 - 16 D1.
// The D sums can overflow int32, but WebAssembly integer arithmetic wraps, so each S, whose
// true value is small (|S| <= 32 x 8 x 127 < 2^15), comes out exact.
inline void q4_step(const uint8_t* w, const int16_t* x, v128_t& d0, v128_t& d1, v128_t& d2, v128_t& d3) {
  const v128_t xv = wasm_v128_load32_splat(x), lanes = wasm_v128_load(w);
  d0 = wasm_i32x4_add(d0, wasm_i32x4_dot_i16x8(lanes, xv));
  d1 = wasm_i32x4_add(d1, wasm_i32x4_dot_i16x8(wasm_i16x8_shr(lanes, 4), xv));
  d2 = wasm_i32x4_add(d2, wasm_i32x4_dot_i16x8(wasm_i16x8_shr(lanes, 8), xv));
  d3 = wasm_i32x4_add(d3, wasm_i32x4_dot_i16x8(wasm_i16x8_shr(lanes, 12), xv));
}

// Rows 0..11 hold c, so their sums are sum(c x); rows 12..15 hold c - 8 and get offset =
// 8 sum(x) added at the block's end. Then w = s c - mn takes mn (sx sum(x)) off each row (Q4_K's
// min; `scales` holds the block's 16 scales, then its 16 mins). The D sums start from zero, not
// from the offset: a start that depends on the block's activation sum would hold the block's
// first additions back while it is loaded.
void panel_q4(const uint8_t* w, int blocks, const int16_t* x, const int32_t* block_sums, const float* scales,
              const float* sx, float* out) {
  v128_t f[4];
  for (auto& v : f) v = wasm_f32x4_splat(0);
  for (int b = 0; b < blocks; ++b, scales += kQ4BlockScales) {
    v128_t d0 = wasm_i32x4_splat(0), d1 = d0, d2 = d0, d3 = d0;
#pragma clang loop unroll(disable)
    for (int j = 0; j < kQuantBlock / 2; j += 2, w += 32, x += 4) {
      q4_step(w, x, d0, d1, d2, d3);
      q4_step(w + 16, x + 2, d0, d1, d2, d3);
    }
    const v128_t offset = wasm_i32x4_splat(int32_t(8u * uint32_t(block_sums[b])));  // wraps like the sums
    const v128_t t = wasm_f32x4_splat(sx[b]);
    add_block(f[0], wasm_i32x4_sub(d0, wasm_i32x4_shl(d1, 4)), scales, t);
    add_block(f[1], wasm_i32x4_sub(d1, wasm_i32x4_shl(d2, 4)), scales + 4, t);
    add_block(f[2], wasm_i32x4_sub(d2, wasm_i32x4_shl(d3, 4)), scales + 8, t);
    add_block(f[3], wasm_i32x4_add(d3, offset), scales + 12, t);
    sub_mins(f, scales + kPanel, sx[b] * float(block_sums[b]));
  }
  for (int i = 0; i < 4; ++i) wasm_v128_store(out + 4 * i, f[i]);
}

// Panel p for activation row r into out[kPanel]; with `pair`, panels p and p + 1 side by side
// into out[2 * kPanel] (see above).
void panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int r, int p, bool pair, float* out) {
  const size_t values = size_t(w.in_padded) * kPanel;  // weights per panel
  switch (w.format) {
    case WeightFormat::F32: {
      const float* panel = reinterpret_cast<const float*>(w.data.data()) + p * values;
      if (pair) panel_f32<2>(panel, values, w.in, x + size_t(r) * w.in, out);
      else panel_f32<1>(panel, values, w.in, x + size_t(r) * w.in, out);
      break;
    }
    case WeightFormat::BF16: {
      const uint16_t* panel = reinterpret_cast<const uint16_t*>(w.data.data()) + p * values;
      if (pair) panel_bf16<2>(panel, values, w.in, x + size_t(r) * w.in, out);
      else panel_bf16<1>(panel, values, w.in, x + size_t(r) * w.in, out);
      break;
    }
    case WeightFormat::Q8:
    case WeightFormat::Q4: {
      const size_t panel_bytes = w.panel_bytes();
      const size_t row = size_t(r) * w.blocks();
      const int16_t* xr = xq->values.data() + size_t(r) * w.in_padded;
      const int32_t* sums = xq->block_sums.data() + row;
      const float* sx = xq->scales.data() + row;
      if (w.format == WeightFormat::Q8) {  // a pair's panels in turn (see panels_q8)
        const uint8_t* panel = w.data.data() + p * panel_bytes;
        if (pair) panels_q8<2>(panel, panel_bytes, w.blocks(), xr, sums, sx, out);
        else panels_q8<1>(panel, panel_bytes, w.blocks(), xr, sums, sx, out);
        break;
      }
      for (int q = 0; q < (pair ? 2 : 1); ++q) {  // Q4: one panel at a time
        const uint8_t* panel = w.data.data() + (p + q) * panel_bytes;
        const float* scales = w.block_scales(p + q, 0);
        float* o = out + q * kPanel;
        if (w.q4_layout == Q4Layout::Lanes) panel_q4(panel, w.blocks(), xr, sums, scales, sx, o);
        else  // gemm() sends the Bytes layout here only where the relaxed kernel is linked
          kyutai_relaxed_q4_panel(panel, w.blocks(), xq->bytes.data() + size_t(r) * w.in_padded, sums, scales, sx, 15,
                                  o);
      }
      break;
    }
  }
}

// The largest |x| over a row, NaN if any value is NaN (f32x4.max propagates it), so the caller
// rejects NaN and Inf with one comparison.
float abs_max(const float* x, int n) {
  v128_t m = wasm_f32x4_splat(0);
  int k = 0;
  for (; k + 4 <= n; k += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(x + k)));
  m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  float amax = wasm_f32x4_extract_lane(m, 0);
  for (; k < n; ++k) amax = std::isnan(x[k]) ? x[k] : std::max(amax, std::fabs(x[k]));
  return amax;
}

// Four values x * inv rounded to nearest even and clamped to +-max_q, as int32 lanes.
inline v128_t quantize4(const float* x, v128_t inv, v128_t max_q) {
  const v128_t v = wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x), inv));
  const v128_t clamped = wasm_f32x4_min(max_q, wasm_f32x4_max(wasm_f32x4_neg(max_q), v));
  return wasm_i32x4_trunc_sat_f32x4(clamped);
}

}  // namespace

// The same arithmetic as scalar::quantize_row, 8 values per step: identical output. A last
// block cut short by the row's end goes through the scalar version itself.
void quantize_row(const float* x, int in, int in_padded, int max_q, int16_t* q, float* scales, int32_t* block_sums) {
  const v128_t max4 = wasm_f32x4_splat(float(max_q));
  for (int b = 0; b < in_padded / kQuantBlock; ++b) {
    const int k0 = b * kQuantBlock;
    if (k0 + kQuantBlock > in) {  // in_padded rounds in up to whole blocks, so k0 < in
      scalar::quantize_row(x + k0, in - k0, kQuantBlock, max_q, q + k0, scales + b, block_sums + b);
      continue;
    }
    const float amax = abs_max(x + k0, kQuantBlock);
    if (!(amax <= 3.4e38f)) {  // NaN/Inf: the products are NaN, never garbage integers
      scales[b] = NAN;
      continue;
    }
    scales[b] = activation_scale(amax, max_q);
    const v128_t inv4 = wasm_f32x4_splat(1.0f / scales[b]);
    v128_t sum = wasm_i32x4_splat(0);
    for (int k = k0; k < k0 + kQuantBlock; k += 8) {
      const v128_t v = wasm_i16x8_narrow_i32x4(quantize4(x + k, inv4, max4), quantize4(x + k + 4, inv4, max4));
      wasm_v128_store(q + k, v);
      sum = wasm_i32x4_add(sum, wasm_i32x4_extadd_pairwise_i16x8(v));
    }
    sum = wasm_i32x4_add(sum, wasm_i32x4_shuffle(sum, sum, 2, 3, 0, 1));
    block_sums[b] = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1);
  }
}

// Whether panels go in pairs: only panels of 64 KB or more. The next panel follows a panel in
// memory, so one panel at a time reads the matrix as one sequential stream, where a pair of
// small panels restarts two streams every few KB. Cold GEMVs on the AMD EPYC VM (27-31 GB/s
// read), library builds run alternately, 3-4 rounds, ms (pairs -> one at a time):
//   f32 512x2048, one row 0.196-0.199 -> 0.149-0.158, two rows 0.242-0.259 -> 0.177-0.208;
//   bf16 512x2048 0.180-0.197 -> 0.083-0.105, 1024x4096 0.520-0.609 -> 0.349-0.449;
//   q8 2048x5632 (32 KB panels) 0.755-1.164 -> 0.671-0.950, faster in 3 rounds of 4.
// From 64 KB pairs were even or faster: f32 two rows at 1024 inputs 21.4 -> 18.8 GB/s one at a
// time, one row at 2048 and 5632 inputs 27.7 -> 22 and 32.3 -> 24 GB/s; q8 5632x2048 (88 KB)
// 0.637-0.817 -> 0.762-0.872 ms. Mimi's frame (f32, 512 wide) encodes and decodes 1.1-1.2 ms
// faster. The Q4 kernels take one panel at a time regardless.
namespace {
bool pair_panels(const PackedMatrix& w) { return w.panel_bytes() >= 64 * 1024; }
}  // namespace

void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y, int panel_begin,
                 int panel_end) {
  alignas(16) float acc[4 * kPanel];                   // two rows of two panels
  const size_t values = size_t(w.in_padded) * kPanel;  // weights per panel
  const bool pairs = pair_panels(w);
  for (int p = panel_begin; p < panel_end;) {
    const int np = pairs && p + 1 < panel_end ? 2 : 1;
    const int count = std::min(np * kPanel, w.out - p * kPanel);
    int r = 0;
    if (w.format == WeightFormat::F32)
      for (; r + 1 < rows; r += 2) {
        const float* panel = reinterpret_cast<const float*>(w.data.data()) + p * values;
        const float *x0 = x + size_t(r) * w.in, *x1 = x0 + w.in;
        if (np == 2) panel_f32_rows2<2>(panel, values, w.in, x0, x1, acc, acc + 2 * kPanel);
        else panel_f32_rows2<1>(panel, values, w.in, x0, x1, acc, acc + 2 * kPanel);
        std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
        std::memcpy(y + size_t(r + 1) * w.out + size_t(p) * kPanel, acc + 2 * kPanel, sizeof(float) * count);
      }
    for (; r < rows; ++r) {
      panels(w, x, xq, r, p, np == 2, acc);
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
    p += np;
  }
}

}  // namespace kyutai::simd128
#endif  // __wasm_simd128__
