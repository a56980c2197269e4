#include "kernels/gemm.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/native_linear.h"

namespace kyutai {

void quantize_rows(const float* x, int rows, int in, int in_padded, QuantizedRows* out) {
  out->values.assign(size_t(rows) * in_padded, 0);
  out->scales.assign(rows, 0.0f);
  const int blocks = in_padded / kQ4Block, spans = (in_padded + kQ8Flush - 1) / kQ8Flush;
  out->block_sums.assign(size_t(rows) * blocks, 0);
  out->span_sums.assign(size_t(rows) * spans, 0);
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * in;
    float amax = 0;
    bool finite = true;
    for (int k = 0; k < in; ++k) {
      float a = std::fabs(xr[k]);
      if (!(a <= 3.4e38f)) finite = false;
      amax = std::max(amax, a);
    }
    if (!finite) {  // NaN/Inf input: the product is NaN, never garbage integers
      out->scales[r] = NAN;
      continue;
    }
    float scale = amax > 0 ? amax / 32767.0f : 1.0f;
    out->scales[r] = scale;
    float inv = 1.0f / scale;
    int16_t* q = out->values.data() + size_t(r) * in_padded;
    for (int k = 0; k < in; ++k) {
      float v = std::nearbyint(xr[k] * inv);  // one f32.nearest in WebAssembly
      q[k] = int16_t(std::min(32767.0f, std::max(-32767.0f, v)));
    }
    // The 4-bit kernel multiplies stored nibbles (q + 8) and subtracts 8 * sum(x) per block;
    // the 8-bit one stores half its rows as q + 128 and subtracts 128 * sum(x) per span.
    for (int b = 0; b < blocks; ++b) {
      int32_t sum = 0;
      for (int k = b * kQ4Block; k < (b + 1) * kQ4Block; ++k) sum += q[k];
      out->block_sums[size_t(r) * blocks + b] = sum;
    }
    for (int k = 0; k < in_padded; ++k) out->span_sums[size_t(r) * spans + k / kQ8Flush] += q[k];
  }
}

const char* gemm_kernel_name(const PackedMatrix& w) {
  if (w.native) return "xnnpack";
#ifdef __wasm_simd128__
  return "simd128";
#else
  return "scalar";
#endif
}

void gemm(const PackedMatrix& w, const float* x, int rows, float* y, const float* bias,
          ThreadPool* pool) {
  if (rows <= 0) return;
  if (w.native) {
    w.native->run(x, rows, y);
  } else {
    QuantizedRows xq;
    const bool quantized = w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4;
    if (quantized) quantize_rows(x, rows, w.in, w.in_padded, &xq);
    auto run = [&](int begin, int end) {
#ifdef __wasm_simd128__
      simd128::gemm_panels(w, x, quantized ? &xq : nullptr, rows, y, begin, end);
#else
      scalar::gemm_panels(w, x, quantized ? &xq : nullptr, rows, y, begin, end);
#endif
    };
    // Splitting only pays when each thread gets a few panels of real work.
    if (pool && pool->threads() > 1 && size_t(w.panels()) * w.in_padded * rows >= 64 * 1024)
      pool->parallel_for(w.panels(), run);
    else
      run(0, w.panels());
  }
  if (bias)
    for (int r = 0; r < rows; ++r)
      for (int o = 0; o < w.out; ++o) y[size_t(r) * w.out + o] += bias[o];
}

}  // namespace kyutai
