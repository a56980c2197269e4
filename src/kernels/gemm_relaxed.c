// The 4-bit matrix-vector kernel with relaxed SIMD's 8-bit dot product. C, freestanding, with
// no calls and no memory of its own: it is compiled apart (clang >= 16, see gemm_relaxed.h and
// wasm/relaxed.cmake) and linked into the Emscripten modules built with clang 14.
//
// i16x8.relaxed_dot_i8x16_i7x16_s(a, b) multiplies adjacent byte pairs of a (signed) and b (7-bit,
// 0..127) and adds each pair into a 16-bit lane: one vpmaddubsw on x86, sixteen products. The
// weights are the 7-bit operand: nibbles holding the codes c (0..15), so the result is exact on
// every engine, which may treat b's top bit either way. The activations are the full 8-bit
// operand (|x| <= 127, gemm.h).
//
// Per 4 inputs of a panel (16 rows, the Bytes layout of packed_matrix.h) the loop loads two
// vectors, splits each into its low and high nibbles (and; shift, and) and takes four dot
// products into four 16-bit accumulators: 7 vector operations per 32 weights where the SIMD128
// kernel needs 11 (gemm_simd128.cpp). A lane gains at most 2 * 15 * 127 = 3810 per 4 inputs, so
// a 32-input block (8 steps, 30480) fits in int16 exactly; at the block's end an i32x4 dot
// product with ones adds each row's two lanes, and the block's sum goes to float as in the
// scalar kernel (gemm_scalar.cpp), which gives the same bits.
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

enum { kPanel = 16, kBlock = 32, kStepBytes = 32 };

static inline v128_t dot_bytes(v128_t weights, v128_t x) {
  return __builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((__i8x16)x, (__i8x16)weights);
}

// Four inputs: rows 0-3, 4-7, 8-11 and 12-15 into a0..a3.
static inline void step(const uint8_t* w, const int8_t* x, v128_t mask, v128_t* a0, v128_t* a1, v128_t* a2,
                        v128_t* a3) {
  const v128_t xv = wasm_v128_load32_splat(x), v0 = wasm_v128_load(w), v1 = wasm_v128_load(w + 16);
  *a0 = wasm_i16x8_add(*a0, dot_bytes(wasm_v128_and(v0, mask), xv));
  *a1 = wasm_i16x8_add(*a1, dot_bytes(wasm_v128_and(wasm_u16x8_shr(v0, 4), mask), xv));
  *a2 = wasm_i16x8_add(*a2, dot_bytes(wasm_v128_and(v1, mask), xv));
  *a3 = wasm_i16x8_add(*a3, dot_bytes(wasm_v128_and(wasm_u16x8_shr(v1, 4), mask), xv));
}

// One panel: per block, the four int16 accumulators as one int32 per row (an i32x4 dot product
// with ones adds each row's two lanes), times (weight scale x the block's activation scale) into
// four float sums that stay in registers, less each row's min times sx sum(x) (w = s c - mn;
// `scales` holds per block the 16 rows' scales, then their mins) (4 + 4
// accumulators, the mask, the activations and the loads fit V8's 16 vector registers). Two
// panels side by side, their float sums kept in memory between blocks, took 1.6-2x this one's
// time on the AMD EPYC VM (27-31 GB/s read per core), where the kernel is bound by its
// instructions, not by the reads: 2048x5632 cold, 0.545-0.553 vs 0.331-0.341 ms in one
// process, three runs.
void kyutai_relaxed_q4_panel(const uint8_t* w, int blocks, const int8_t* x, const int32_t* block_sums,
                             const float* scales, const float* sx, int nibble_mask, float* out) {
  const v128_t mask = wasm_i8x16_splat((int8_t)nibble_mask), ones = wasm_i16x8_splat(1);
  v128_t f[4];
  for (int i = 0; i < 4; ++i) f[i] = wasm_f32x4_splat(0);
  for (int b = 0; b < blocks; ++b, scales += 2 * kPanel) {
    v128_t a[4];
    for (int i = 0; i < 4; ++i) a[i] = wasm_i16x8_splat(0);
      // Two steps per iteration, as in the SIMD128 kernels: V8 adds a counter, an exit test and
      // a stack check to each iteration.
#pragma clang loop unroll(disable)
    for (int j = 0; j < kBlock / 4; j += 2, w += 2 * kStepBytes, x += 8) {
      step(w, x, mask, &a[0], &a[1], &a[2], &a[3]);
      step(w + kStepBytes, x + 4, mask, &a[0], &a[1], &a[2], &a[3]);
    }
    const v128_t t = wasm_f32x4_splat(sx[b]), sums = wasm_f32x4_splat(sx[b] * (float)block_sums[b]);
    for (int i = 0; i < 4; ++i) {
      const v128_t rows = wasm_i32x4_dot_i16x8(a[i], ones);
      f[i] = wasm_f32x4_add(
          f[i], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(rows), wasm_f32x4_mul(wasm_v128_load(scales + 4 * i), t)));
    }
    for (int i = 0; i < 4; ++i)
      f[i] = wasm_f32x4_sub(f[i], wasm_f32x4_mul(wasm_v128_load(scales + kPanel + 4 * i), sums));
  }
  for (int i = 0; i < 4; ++i) wasm_v128_store(out + 4 * i, f[i]);
}
