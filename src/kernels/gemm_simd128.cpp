// WebAssembly SIMD128 matrix products over the packed layouts (see packed_matrix.h).
// Each output keeps the scalar kernel's summation order, so results match it exactly.
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include <algorithm>
#include <cstring>

#include "kernels/bf16_simd128.h"
#include "kernels/gemm.h"

namespace kyutai::simd128 {

namespace {

// Each kernel computes NP panels side by side. For f32 (memory-bound) NP = 2 where the layer
// has a pair left: two sequential weight streams keep more DRAM reads in flight than one,
// ~22 -> ~25 GB/s here (bench (a)). The integer and bf16 kernels do more work per byte; with
// NP = 2 their 16 accumulators spill and they slow down (q8 19 -> 15 GB/s), so they use 1.
// Each output's summation order is the same either way.
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

// Each k-pair of an int8 panel is 4 x 8 bytes: rows 0..3, 4..7, 8..11, 12..15, each row's
// (k, k+1) adjacent. load8x8 sign-extends 8 bytes straight into 16-bit lanes (one x86
// pmovsxbw), so i32x4.dot_i16x8 can take them with the broadcast activation pair.
template <int NP>
void panel_q8(const int8_t* panel, size_t stride, int in_padded, const int16_t* xq, const float* scales,
              float sx, float* out) {
  v128_t f[NP][4];
  for (auto& p : f)
    for (auto& v : p) v = wasm_f32x4_splat(0);
  for (int k0 = 0; k0 < in_padded; k0 += kQ8Flush) {
    v128_t acc[NP][4];
    for (auto& p : acc)
      for (auto& v : p) v = wasm_i32x4_splat(0);
    const int k1 = std::min(in_padded, k0 + kQ8Flush);
    for (int k = k0; k < k1; k += 2) {
      const v128_t xv = wasm_v128_load32_splat(xq + k);
      for (int p = 0; p < NP; ++p) {
        const int8_t* pair = panel + p * stride + size_t(k / 2) * 32;
        for (int j = 0; j < 4; ++j)
          acc[p][j] = wasm_i32x4_add(acc[p][j], wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(pair + 8 * j), xv));
      }
    }
    for (int p = 0; p < NP; ++p)
      for (int j = 0; j < 4; ++j) f[p][j] = wasm_f32x4_add(f[p][j], wasm_f32x4_convert_i32x4(acc[p][j]));
  }
  const v128_t s = wasm_f32x4_splat(sx);
  for (int p = 0; p < NP; ++p)
    for (int j = 0; j < 4; ++j)
      wasm_v128_store(out + p * kPanel + 4 * j,
                      wasm_f32x4_mul(wasm_f32x4_mul(f[p][j], wasm_v128_load(scales + p * kPanel + 4 * j)), s));
}

// A 4-bit k-pair is 2 x 8 bytes; zero-extending each 8 bytes to 16-bit lanes gives lanes
// holding lo + 16 hi (lo: rows 0..3, hi: rows 4..7, or 8..11 / 12..15). The dot product of
// the whole lanes and of the lanes shifted right by 4 (= hi) are accumulated, and the low rows'
// sum is taken out once per block as whole - 16 hi: one mask fewer per 16 weights.
// Nibbles hold q + 8, so each row's block sum carries 8 * sum(x) too much. The accumulators
// start at minus that offset instead of zero (the whole-lane ones at -17 offset, since
// whole - 16 hi subtracts 16 times the hi start), which saves a subtraction per row group.
// Exact: |sum| <= 17 x 8 x 32 x 32767 + 16 pairs x 2 x 255 x 32767 < 2^31.
// `scale_stride`: floats between the scales of consecutive panels.
template <int NP>
void panel_q4(const uint8_t* panel, size_t stride, int blocks, const int16_t* xq, const int32_t* block_sums,
              const float* scales, size_t scale_stride, float sx, float* out) {
  v128_t f[NP][4];
  for (auto& p : f)
    for (auto& v : p) v = wasm_f32x4_splat(0);
  for (int b = 0; b < blocks; ++b) {
    const int32_t offset = 8 * block_sums[b];
    const v128_t whole_start = wasm_i32x4_splat(-17 * offset), hi_start = wasm_i32x4_splat(-offset);
    v128_t acc[NP][4];
    for (auto& p : acc) {
      p[0] = p[2] = whole_start;
      p[1] = p[3] = hi_start;
    }
    const int16_t* xb = xq + b * kQ4Block;
    for (int j = 0; j < kQ4Block / 2; ++j) {
      const v128_t xv = wasm_v128_load32_splat(xb + 2 * j);
      for (int p = 0; p < NP; ++p) {
        const uint8_t* block = panel + p * stride + size_t(b) * kQ4Block * kPanel / 2 + j * 16;
        const v128_t lo = wasm_u16x8_load8x8(block), hi = wasm_u16x8_load8x8(block + 8);
        acc[p][0] = wasm_i32x4_add(acc[p][0], wasm_i32x4_dot_i16x8(lo, xv));
        acc[p][1] = wasm_i32x4_add(acc[p][1], wasm_i32x4_dot_i16x8(wasm_u16x8_shr(lo, 4), xv));
        acc[p][2] = wasm_i32x4_add(acc[p][2], wasm_i32x4_dot_i16x8(hi, xv));
        acc[p][3] = wasm_i32x4_add(acc[p][3], wasm_i32x4_dot_i16x8(wasm_u16x8_shr(hi, 4), xv));
      }
    }
    for (int p = 0; p < NP; ++p) {
      acc[p][0] = wasm_i32x4_sub(acc[p][0], wasm_i32x4_shl(acc[p][1], 4));
      acc[p][2] = wasm_i32x4_sub(acc[p][2], wasm_i32x4_shl(acc[p][3], 4));
      const float* s = scales + p * scale_stride + size_t(b) * kPanel;
      for (int j = 0; j < 4; ++j)
        f[p][j] = wasm_f32x4_add(f[p][j], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc[p][j]), wasm_v128_load(s + 4 * j)));
    }
  }
  const v128_t s = wasm_f32x4_splat(sx);
  for (int p = 0; p < NP; ++p)
    for (int j = 0; j < 4; ++j) wasm_v128_store(out + p * kPanel + 4 * j, wasm_f32x4_mul(f[p][j], s));
}

// Panels [p, p + NP) for activation row r into out[NP * kPanel].
template <int NP>
void panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int r, int p, float* out) {
  const size_t values = size_t(w.in_padded) * kPanel;  // weights per panel
  switch (w.format) {
    case WeightFormat::F32:
      panel_f32<NP>(reinterpret_cast<const float*>(w.data.data()) + p * values, values, w.in, x + size_t(r) * w.in, out);
      break;
    case WeightFormat::BF16:
      panel_bf16<NP>(reinterpret_cast<const uint16_t*>(w.data.data()) + p * values, values, w.in,
                     x + size_t(r) * w.in, out);
      break;
    case WeightFormat::Q8:
      panel_q8<NP>(reinterpret_cast<const int8_t*>(w.data.data()) + p * values, values, w.in_padded,
                   xq->values.data() + size_t(r) * w.in_padded, w.scales.data() + size_t(p) * kPanel,
                   xq->scales[r], out);
      break;
    case WeightFormat::Q4:
      panel_q4<NP>(w.data.data() + p * values / 2, values / 2, w.blocks(), xq->values.data() + size_t(r) * w.in_padded,
                   xq->block_sums.data() + size_t(r) * w.blocks(), w.scales.data() + size_t(p) * w.blocks() * kPanel,
                   size_t(w.blocks()) * kPanel, xq->scales[r], out);
      break;
  }
}

}  // namespace

void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y,
                 int panel_begin, int panel_end) {
  alignas(16) float acc[2 * kPanel];
  for (int p = panel_begin; p < panel_end;) {
    const int np = w.format == WeightFormat::F32 && p + 1 < panel_end ? 2 : 1;
    const int count = std::min(np * kPanel, w.out - p * kPanel);
    for (int r = 0; r < rows; ++r) {
      if (np == 2) panels<2>(w, x, xq, r, p, acc);
      else panels<1>(w, x, xq, r, p, acc);
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
    p += np;
  }
}

}  // namespace kyutai::simd128
#endif  // __wasm_simd128__
