// WebAssembly SIMD128 matrix products over the packed layouts (see packed_matrix.h).
// Each output keeps the scalar kernel's summation order, so results match it exactly.
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"

namespace kyutai::simd128 {

namespace {

void panel_f32(const float* panel, int in, const float* x, float* out) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int k = 0; k < in; ++k) {
    const float* w = panel + size_t(k) * kPanel;
    v128_t xv = wasm_f32x4_splat(x[k]);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(w), xv));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(w + 4), xv));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(w + 8), xv));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(w + 12), xv));
  }
  wasm_v128_store(out, a0);
  wasm_v128_store(out + 4, a1);
  wasm_v128_store(out + 8, a2);
  wasm_v128_store(out + 12, a3);
}

inline v128_t bf16_low(v128_t v) { return wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(v), 16); }
inline v128_t bf16_high(v128_t v) { return wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(v), 16); }

void panel_bf16(const uint16_t* panel, int in, const float* x, float* out) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int k = 0; k < in; ++k) {
    const uint16_t* w = panel + size_t(k) * kPanel;
    v128_t xv = wasm_f32x4_splat(x[k]);
    v128_t lo = wasm_v128_load(w), hi = wasm_v128_load(w + 8);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(bf16_low(lo), xv));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(bf16_high(lo), xv));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(bf16_low(hi), xv));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(bf16_high(hi), xv));
  }
  wasm_v128_store(out, a0);
  wasm_v128_store(out + 4, a1);
  wasm_v128_store(out + 8, a2);
  wasm_v128_store(out + 12, a3);
}

inline int32_t load_pair(const int16_t* xq, int k) {
  int32_t v;
  std::memcpy(&v, xq + k, 4);
  return v;
}

void panel_q8(const int8_t* panel, int in_padded, const int16_t* xq, const float* scales, float sx,
              float* out) {
  v128_t f0 = wasm_f32x4_splat(0), f1 = f0, f2 = f0, f3 = f0;
  for (int k0 = 0; k0 < in_padded; k0 += kQ8Flush) {
    v128_t i0 = wasm_i32x4_splat(0), i1 = i0, i2 = i0, i3 = i0;
    const int k1 = std::min(in_padded, k0 + kQ8Flush);
    for (int k = k0; k < k1; k += 2) {
      const int8_t* pair = panel + size_t(k / 2) * 32;
      v128_t xv = wasm_i32x4_splat(load_pair(xq, k));
      v128_t w0 = wasm_v128_load(pair), w1 = wasm_v128_load(pair + 16);
      i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w0), xv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w0), xv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w1), xv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w1), xv));
    }
    f0 = wasm_f32x4_add(f0, wasm_f32x4_convert_i32x4(i0));
    f1 = wasm_f32x4_add(f1, wasm_f32x4_convert_i32x4(i1));
    f2 = wasm_f32x4_add(f2, wasm_f32x4_convert_i32x4(i2));
    f3 = wasm_f32x4_add(f3, wasm_f32x4_convert_i32x4(i3));
  }
  v128_t s = wasm_f32x4_splat(sx);
  wasm_v128_store(out, wasm_f32x4_mul(wasm_f32x4_mul(f0, wasm_v128_load(scales)), s));
  wasm_v128_store(out + 4, wasm_f32x4_mul(wasm_f32x4_mul(f1, wasm_v128_load(scales + 4)), s));
  wasm_v128_store(out + 8, wasm_f32x4_mul(wasm_f32x4_mul(f2, wasm_v128_load(scales + 8)), s));
  wasm_v128_store(out + 12, wasm_f32x4_mul(wasm_f32x4_mul(f3, wasm_v128_load(scales + 12)), s));
}

void panel_q4(const uint8_t* panel, int blocks, const int16_t* xq, const float* scales, float sx,
              float* out) {
  v128_t f0 = wasm_f32x4_splat(0), f1 = f0, f2 = f0, f3 = f0;
  const v128_t low_mask = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
  for (int b = 0; b < blocks; ++b) {
    v128_t i0 = wasm_i32x4_splat(0), i1 = i0, i2 = i0, i3 = i0;
    const uint8_t* block = panel + size_t(b) * kQ4Block * kPanel / 2;
    const int16_t* xb = xq + b * kQ4Block;
    for (int j = 0; j < kQ4Block / 2; ++j) {
      v128_t raw = wasm_v128_load(block + j * 16);
      v128_t xv = wasm_i32x4_splat(load_pair(xb, 2 * j));
      v128_t lo = wasm_i8x16_sub(wasm_v128_and(raw, low_mask), eight);
      v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(raw, 4), eight);
      i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(lo), xv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(lo), xv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(hi), xv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(hi), xv));
    }
    const float* s = scales + size_t(b) * kPanel;
    f0 = wasm_f32x4_add(f0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i0), wasm_v128_load(s)));
    f1 = wasm_f32x4_add(f1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i1), wasm_v128_load(s + 4)));
    f2 = wasm_f32x4_add(f2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i2), wasm_v128_load(s + 8)));
    f3 = wasm_f32x4_add(f3, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i3), wasm_v128_load(s + 12)));
  }
  v128_t s = wasm_f32x4_splat(sx);
  wasm_v128_store(out, wasm_f32x4_mul(f0, s));
  wasm_v128_store(out + 4, wasm_f32x4_mul(f1, s));
  wasm_v128_store(out + 8, wasm_f32x4_mul(f2, s));
  wasm_v128_store(out + 12, wasm_f32x4_mul(f3, s));
}

}  // namespace

void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y,
                 int panel_begin, int panel_end) {
  alignas(16) float acc[kPanel];
  for (int p = panel_begin; p < panel_end; ++p) {
    const int count = std::min(kPanel, w.out - p * kPanel);
    for (int r = 0; r < rows; ++r) {
      switch (w.format) {
        case WeightFormat::F32:
          panel_f32(reinterpret_cast<const float*>(w.data.data()) + size_t(p) * w.in_padded * kPanel,
                    w.in, x + size_t(r) * w.in, acc);
          break;
        case WeightFormat::BF16:
          panel_bf16(reinterpret_cast<const uint16_t*>(w.data.data()) + size_t(p) * w.in_padded * kPanel,
                     w.in, x + size_t(r) * w.in, acc);
          break;
        case WeightFormat::Q8:
          panel_q8(reinterpret_cast<const int8_t*>(w.data.data()) + size_t(p) * w.in_padded * kPanel,
                   w.in_padded, xq->values.data() + size_t(r) * w.in_padded,
                   w.scales.data() + size_t(p) * kPanel, xq->scales[r], acc);
          break;
        case WeightFormat::Q4:
          panel_q4(w.data.data() + size_t(p) * w.in_padded * kPanel / 2, w.blocks(),
                   xq->values.data() + size_t(r) * w.in_padded,
                   w.scales.data() + size_t(p) * w.blocks() * kPanel, xq->scales[r], acc);
          break;
      }
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
  }
}

}  // namespace kyutai::simd128
#endif  // __wasm_simd128__
