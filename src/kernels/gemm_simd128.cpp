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

// bf16 -> f32 is "put the 16 bits in the high half": interleaving with zeros does it in one
// shuffle per 4 values (punpcklwd / punpckhwd).
inline v128_t bf16_low(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11); }
inline v128_t bf16_high(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15); }

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

// Each k-pair of an int8 panel is 4 x 8 bytes: rows 0..3, 4..7, 8..11, 12..15, each row's
// (k, k+1) adjacent. load8x8 sign-extends 8 bytes straight into 16-bit lanes (one x86
// pmovsxbw), so i32x4.dot_i16x8 can take them with the broadcast activation pair.
void panel_q8(const int8_t* panel, int in_padded, const int16_t* xq, const float* scales, float sx,
              float* out) {
  v128_t f0 = wasm_f32x4_splat(0), f1 = f0, f2 = f0, f3 = f0;
  for (int k0 = 0; k0 < in_padded; k0 += kQ8Flush) {
    v128_t i0 = wasm_i32x4_splat(0), i1 = i0, i2 = i0, i3 = i0;
    const int k1 = std::min(in_padded, k0 + kQ8Flush);
    for (int k = k0; k < k1; k += 2) {
      const int8_t* pair = panel + size_t(k / 2) * 32;
      v128_t xv = wasm_v128_load32_splat(xq + k);
      i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(pair), xv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(pair + 8), xv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(pair + 16), xv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(pair + 24), xv));
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

// A 4-bit k-pair is 2 x 8 bytes; zero-extending each 8 bytes to 16-bit lanes, the low nibbles
// (mask) and high nibbles (shift) are two rows-by-pair vectors. Nibbles hold q + 8: the dot
// products use them as they are and 8 * sum(x) of the block is subtracted once per block.
void panel_q4(const uint8_t* panel, int blocks, const int16_t* xq, const int32_t* block_sums,
              const float* scales, float sx, float* out) {
  v128_t f0 = wasm_f32x4_splat(0), f1 = f0, f2 = f0, f3 = f0;
  const v128_t low_mask = wasm_i16x8_splat(0x0f);
  for (int b = 0; b < blocks; ++b) {
    v128_t i0 = wasm_i32x4_splat(0), i1 = i0, i2 = i0, i3 = i0;
    const uint8_t* block = panel + size_t(b) * kQ4Block * kPanel / 2;
    const int16_t* xb = xq + b * kQ4Block;
    for (int j = 0; j < kQ4Block / 2; ++j) {
      v128_t a = wasm_u16x8_load8x8(block + j * 16), c = wasm_u16x8_load8x8(block + j * 16 + 8);
      v128_t xv = wasm_v128_load32_splat(xb + 2 * j);
      i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(wasm_v128_and(a, low_mask), xv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(wasm_u16x8_shr(a, 4), xv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(wasm_v128_and(c, low_mask), xv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(wasm_u16x8_shr(c, 4), xv));
    }
    const v128_t offset = wasm_i32x4_splat(8 * block_sums[b]);
    const float* s = scales + size_t(b) * kPanel;
    f0 = wasm_f32x4_add(f0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(i0, offset)), wasm_v128_load(s)));
    f1 = wasm_f32x4_add(f1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(i1, offset)), wasm_v128_load(s + 4)));
    f2 = wasm_f32x4_add(f2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(i2, offset)), wasm_v128_load(s + 8)));
    f3 = wasm_f32x4_add(f3, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(i3, offset)), wasm_v128_load(s + 12)));
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
                   xq->values.data() + size_t(r) * w.in_padded, xq->block_sums.data() + size_t(r) * w.blocks(),
                   w.scales.data() + size_t(p) * w.blocks() * kPanel, xq->scales[r], acc);
          break;
      }
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
  }
}

}  // namespace kyutai::simd128
#endif  // __wasm_simd128__
