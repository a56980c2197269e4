// Matrix products against packed weights: y[r] = W x[r] (+ bias) for a few rows r.
// One row is the per-frame matrix-vector product; several rows (teacher-forced forward,
// the codec's two steps per frame) reuse each weight panel while it is in cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/packed_matrix.h"

namespace kyutai {

class ThreadPool;

// x: [rows, w.in] row-major; y: [rows, w.out]; bias: [w.out] or nullptr.
void gemm(const PackedMatrix& w, const float* x, int rows, float* y, const float* bias, ThreadPool* pool);

// Name of the kernel family `gemm` uses for this matrix ("simd128", "scalar", "xnnpack").
const char* gemm_kernel_name(const PackedMatrix& w);

// Integer activations for the quantized kernels, padded with zeros to `in_padded` (a whole
// number of 32-value blocks): per block of 32 values a scale max|x| / max_q and the values
// round(x / scale) (issue 31: one scale per vector let a few outlier channels coarsen every
// other value; a scale per block confines them to their block). Exposed for tests.
//
// Their range depends on the weights they meet. Q8 rows take 16-bit activations (|q| <= 32767,
// which the SIMD128 kernel's 16-bit lanes multiply at no extra cost): with 8-bit ones q8 agreed
// with f32 on 96.6% of the conformance checkpoint's greedy decisions instead of 99%. Q4 rows take
// 8-bit ones (|q| <= 127): relaxed SIMD's dot product multiplies 4-bit weights by 8-bit
// activations sixteen at a time, every Q4 kernel uses the same values so all give the same
// bits, and next to 4-bit weights the 8-bit rounding barely shows.
struct QuantizedRows {
  std::vector<int16_t> values;      // [rows, in_padded]
  std::vector<int8_t> bytes;        // the same values as int8, for the relaxed-SIMD kernel when
                                    // it is linked and they fit (max_q <= 127); else empty
  std::vector<float> scales;        // [rows, in_padded / 32]: each block's scale
  std::vector<int32_t> block_sums;  // [rows, in_padded / 32]: sum of each block's values
};
inline int activation_max(WeightFormat format) { return format == WeightFormat::Q4 ? 127 : 32767; }
void quantize_rows(const float* x, int rows, int in, int in_padded, int max_q, QuantizedRows* out);

// One row of quantize_rows: per block b, scales[b] = max|x| / max_q over the block (1 for a
// zero block), q = round(x / scales[b]) and block_sums[b] = the sum of its q. q and block_sums
// arrive zeroed; a block holding NaN or Inf gets scale NaN and zero values, so the products are
// NaN, never garbage integers. Both versions use these two for the scale and for each value.
inline float activation_scale(float amax, int max_q) { return amax > 0 ? amax / float(max_q) : 1.0f; }
inline int16_t quantize_value(float x, float inv_scale, int max_q) {
  const float v = std::nearbyint(x * inv_scale);  // one f32.nearest in WebAssembly
  return int16_t(std::min(float(max_q), std::max(-float(max_q), v)));
}

namespace scalar {
void quantize_row(const float* x, int in, int in_padded, int max_q, int16_t* q, float* scales, int32_t* block_sums);
// The portable reference; the SIMD kernels reproduce its arithmetic order, so quantized
// results are bit-identical and float results equal up to nothing (same per-output order).
void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y, int panel_begin,
                 int panel_end);
}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
void quantize_row(const float* x, int in, int in_padded, int max_q, int16_t* q, float* scales, int32_t* block_sums);
void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y, int panel_begin,
                 int panel_end);
}  // namespace simd128
#endif

}  // namespace kyutai
