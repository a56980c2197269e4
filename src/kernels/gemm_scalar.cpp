// Portable matrix products over the packed layouts (see packed_matrix.h). Also the
// reference the SIMD128 kernels are tested against.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"

namespace kyutai::scalar {

void quantize_row(const float* x, int in, int in_padded, int max_q, int16_t* q, float* scales, int32_t* block_sums) {
  for (int b = 0; b < in_padded / kQuantBlock; ++b) {
    const int k0 = b * kQuantBlock, k1 = std::min(in, k0 + kQuantBlock);
    float amax = 0;
    bool finite = true;
    for (int k = k0; k < k1; ++k) {
      const float a = std::fabs(x[k]);
      if (!(a <= 3.4e38f)) finite = false;
      amax = std::max(amax, a);
    }
    if (!finite) {  // NaN/Inf: the products are NaN, never garbage integers
      scales[b] = NAN;
      continue;
    }
    scales[b] = activation_scale(amax, max_q);
    const float inv = 1.0f / scales[b];
    for (int k = k0; k < k1; ++k) {
      q[k] = quantize_value(x[k], inv, max_q);
      block_sums[b] += q[k];
    }
  }
}

namespace {

void panel_float(const PackedMatrix& w, const uint8_t* panel, const float* x, float* acc) {
  for (int o = 0; o < kPanel; ++o) acc[o] = 0;
  for (int k = 0; k < w.in; ++k) {
    float xk = x[k];
    for (int o = 0; o < kPanel; ++o) {
      float wk = w.format == WeightFormat::F32
                     ? reinterpret_cast<const float*>(panel)[size_t(k) * kPanel + o]
                     : bf16_to_f32(reinterpret_cast<const uint16_t*>(panel)[size_t(k) * kPanel + o]);
      acc[o] = acc[o] + wk * xk;
    }
  }
}

// The stored weight of (row o, input k) of a quantized panel, as a signed integer.
int q8_weight(const PackedMatrix&, const uint8_t* panel, int o, int k) { return q8_value(o, panel[q8_offset(o, k)]); }
int q4_weight(const PackedMatrix& w, const uint8_t* panel, int o, int k) {
  const uint8_t* block = panel + size_t(k / kQuantBlock) * kQuantBlock * kPanel / 2;
  return int(q4_code(w.q4_layout, block, o, k % kQuantBlock));
}

// Both integer formats: per block of 32 inputs an exact integer sum per row, added to the
// row's float sum times (weight scale x activation scale), the order every kernel keeps. Q4's
// w = s c - mn then takes mn x (activation scale x the block's sum of x) off each row.
template <int (*weight)(const PackedMatrix&, const uint8_t*, int, int)>
void panel_quantized(const PackedMatrix& w, int p, const uint8_t* panel, const int16_t* xq, const float* sx,
                     const int32_t* block_sums, float* acc) {
  for (int o = 0; o < kPanel; ++o) acc[o] = 0;
  const int blocks = w.blocks();
  for (int b = 0; b < blocks; ++b) {
    int32_t isum[kPanel] = {0};
    for (int k = b * kQuantBlock; k < (b + 1) * kQuantBlock; ++k)
      for (int o = 0; o < kPanel; ++o) isum[o] += weight(w, panel, o, k) * xq[k];
    const float* s = w.block_scales(p, b);
    for (int o = 0; o < kPanel; ++o) acc[o] = acc[o] + float(isum[o]) * (s[o] * sx[b]);
    if (w.format != WeightFormat::Q4) continue;
    const float t = sx[b] * float(block_sums[b]);
    for (int o = 0; o < kPanel; ++o) acc[o] = acc[o] - s[kPanel + o] * t;
  }
}

}  // namespace

void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y, int panel_begin,
                 int panel_end) {
  const size_t stride = w.panel_bytes();
  float acc[kPanel];
  for (int p = panel_begin; p < panel_end; ++p) {
    const uint8_t* panel = w.data.data() + stride * p;
    const int count = std::min(kPanel, w.out - p * kPanel);
    for (int r = 0; r < rows; ++r) {
      switch (w.format) {
        case WeightFormat::F32:
        case WeightFormat::BF16: panel_float(w, panel, x + size_t(r) * w.in, acc); break;
        case WeightFormat::Q8:
          panel_quantized<q8_weight>(w, p, panel, xq->values.data() + size_t(r) * w.in_padded,
                                     xq->scales.data() + size_t(r) * w.blocks(),
                                     xq->block_sums.data() + size_t(r) * w.blocks(), acc);
          break;
        case WeightFormat::Q4:
          panel_quantized<q4_weight>(w, p, panel, xq->values.data() + size_t(r) * w.in_padded,
                                     xq->scales.data() + size_t(r) * w.blocks(),
                                     xq->block_sums.data() + size_t(r) * w.blocks(), acc);
          break;
      }
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
  }
}

}  // namespace kyutai::scalar
