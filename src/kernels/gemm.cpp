#include "kernels/gemm.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/gemm_relaxed.h"
#include "kernels/native_linear.h"

namespace kyutai {

Q4Layout preferred_q4_layout() { return relaxed_simd_linked() ? Q4Layout::Bytes : Q4Layout::Lanes; }

void quantize_rows(const float* x, int rows, int in, int in_padded, int max_q, QuantizedRows* out) {
  const int blocks = in_padded / kQuantBlock;
  out->values.assign(size_t(rows) * in_padded, 0);
  out->scales.assign(size_t(rows) * blocks, 0.0f);
  out->block_sums.assign(size_t(rows) * blocks, 0);
  for (int r = 0; r < rows; ++r) {
    int16_t* q = out->values.data() + size_t(r) * in_padded;
    float* scales = out->scales.data() + size_t(r) * blocks;
    int32_t* block_sums = out->block_sums.data() + size_t(r) * blocks;
#ifdef __wasm_simd128__
    simd128::quantize_row(x + size_t(r) * in, in, in_padded, max_q, q, scales, block_sums);
#else
    scalar::quantize_row(x + size_t(r) * in, in, in_padded, max_q, q, scales, block_sums);
#endif
  }
  // Only the relaxed-SIMD kernel reads the int8 copy: modules without it skip the copy.
  if (max_q <= 127 && relaxed_simd_linked()) out->bytes.assign(out->values.begin(), out->values.end());
}

namespace {

// Which kernels run a product: the relaxed-SIMD one reads only the Bytes layout, the SIMD128
// one every other layout; a Bytes matrix in a module without relaxed SIMD takes the scalar one.
enum class Kernel { Scalar, Simd128, Relaxed };
Kernel kernel_for(const PackedMatrix& w) {
  if (w.format == WeightFormat::Q4 && w.q4_layout == Q4Layout::Bytes)
    return relaxed_simd_linked() ? Kernel::Relaxed : Kernel::Scalar;
#ifdef __wasm_simd128__
  return Kernel::Simd128;
#else
  return Kernel::Scalar;
#endif
}

}  // namespace

const char* gemm_kernel_name(const PackedMatrix& w) {
  if (w.native) return "xnnpack";
  switch (kernel_for(w)) {
    case Kernel::Relaxed: return "relaxed-simd";
    case Kernel::Simd128: return "simd128";
    case Kernel::Scalar: break;
  }
  return "scalar";
}

void gemm(const PackedMatrix& w, const float* x, int rows, float* y, const float* bias, ThreadPool* pool) {
  if (rows <= 0) return;
  if (w.native) {
    w.native->run(x, rows, y);
  } else {
    QuantizedRows xq;
    const bool quantized = w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4;
    if (quantized) quantize_rows(x, rows, w.in, w.in_padded, activation_max(w.format), &xq);
    auto run = [&](int begin, int end) {
#ifdef __wasm_simd128__
      if (kernel_for(w) != Kernel::Scalar) {  // simd128::gemm_panels hands Bytes-layout Q4 to the relaxed kernel
        simd128::gemm_panels(w, x, quantized ? &xq : nullptr, rows, y, begin, end);
        return;
      }
#endif
      scalar::gemm_panels(w, x, quantized ? &xq : nullptr, rows, y, begin, end);
    };
    // Splitting only pays when each thread gets a few panels of real work.
    if (pool && pool->threads() > 1 && size_t(w.panels()) * w.in_padded * rows >= 64 * 1024)
      pool->parallel_for(w.panels(), run);
    else run(0, w.panels());
  }
  if (bias)
    for (int r = 0; r < rows; ++r)
      for (int o = 0; o < w.out; ++o) y[size_t(r) * w.out + o] += bias[o];
}

}  // namespace kyutai
