// Portable matrix products over the packed layouts (see packed_matrix.h). Also the
// reference the SIMD128 kernels are tested against.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"

namespace kyutai::scalar {

float quantize_row(const float* x, int in, int in_padded, int max_q, int16_t* q, int32_t* block_sums) {
  float amax = 0;
  bool finite = true;
  for (int k = 0; k < in; ++k) {
    float a = std::fabs(x[k]);
    if (!(a <= 3.4e38f)) finite = false;
    amax = std::max(amax, a);
  }
  if (!finite) return NAN;  // NaN/Inf input: the product is NaN, never garbage integers
  const float scale = activation_scale(amax, max_q);
  const float inv = 1.0f / scale;
  for (int k = 0; k < in; ++k) q[k] = quantize_value(x[k], inv, max_q);
  for (int b = 0; b < in_padded / kQ4Block; ++b)
    for (int k = b * kQ4Block; k < (b + 1) * kQ4Block; ++k) block_sums[b] += q[k];
  return scale;
}

namespace {

size_t panel_stride(const PackedMatrix& w) {
  switch (w.format) {
    case WeightFormat::F32: return size_t(w.in_padded) * kPanel * 4;
    case WeightFormat::BF16: return size_t(w.in_padded) * kPanel * 2;
    case WeightFormat::Q8: return size_t(w.in_padded) * kPanel;
    case WeightFormat::Q4: return size_t(w.in_padded) * kPanel / 2;
  }
  return 0;
}

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

void panel_q8(const PackedMatrix& w, int p, const uint8_t* panel, const int16_t* xq, float sx, float* acc) {
  for (int o = 0; o < kPanel; ++o) acc[o] = 0;
  for (int k0 = 0; k0 < w.in_padded; k0 += kQ8Flush) {
    int32_t isum[kPanel] = {0};
    int k1 = std::min(w.in_padded, k0 + kQ8Flush);
    for (int k = k0; k < k1; k += 2) {
      const uint8_t* pair = panel + size_t(k / 2) * 32;
      for (int o = 0; o < kPanel; ++o) {
        const int q0 = q8_value(o, pair[q8_offset(o, 0)]), q1 = q8_value(o, pair[q8_offset(o, 1)]);
        isum[o] += q0 * xq[k] + q1 * xq[k + 1];
      }
    }
    for (int o = 0; o < kPanel; ++o) acc[o] += float(isum[o]);
  }
  for (int o = 0; o < kPanel; ++o) acc[o] = acc[o] * w.scales[size_t(p) * kPanel + o] * sx;
}

void panel_q4(const PackedMatrix& w, int p, const uint8_t* panel, const int16_t* xq, float sx, float* acc) {
  for (int o = 0; o < kPanel; ++o) acc[o] = 0;
  const int blocks = w.blocks();
  for (int b = 0; b < blocks; ++b) {
    int32_t isum[kPanel] = {0};
    const uint8_t* block = panel + size_t(b) * kQ4Block * kPanel / 2;
    for (int j = 0; j < kQ4Block / 2; ++j) {
      int k = b * kQ4Block + 2 * j;
      for (int o = 0; o < kPanel; ++o) {
        const int q0 = int(q4_biased(w.q4_layout, block, o, 2 * j)) - 8,
                  q1 = int(q4_biased(w.q4_layout, block, o, 2 * j + 1)) - 8;
        isum[o] += q0 * xq[k] + q1 * xq[k + 1];
      }
    }
    const float* s = w.scales.data() + (size_t(p) * blocks + b) * kPanel;
    for (int o = 0; o < kPanel; ++o) acc[o] = acc[o] + float(isum[o]) * s[o];
  }
  for (int o = 0; o < kPanel; ++o) acc[o] = acc[o] * sx;
}

}  // namespace

void gemm_panels(const PackedMatrix& w, const float* x, const QuantizedRows* xq, int rows, float* y, int panel_begin,
                 int panel_end) {
  const size_t stride = panel_stride(w);
  float acc[kPanel];
  for (int p = panel_begin; p < panel_end; ++p) {
    const uint8_t* panel = w.data.data() + stride * p;
    const int count = std::min(kPanel, w.out - p * kPanel);
    for (int r = 0; r < rows; ++r) {
      switch (w.format) {
        case WeightFormat::F32:
        case WeightFormat::BF16: panel_float(w, panel, x + size_t(r) * w.in, acc); break;
        case WeightFormat::Q8:
          panel_q8(w, p, panel, xq->values.data() + size_t(r) * w.in_padded, xq->scales[r], acc);
          break;
        case WeightFormat::Q4:
          panel_q4(w, p, panel, xq->values.data() + size_t(r) * w.in_padded, xq->scales[r], acc);
          break;
      }
      std::memcpy(y + size_t(r) * w.out + size_t(p) * kPanel, acc, sizeof(float) * count);
    }
  }
}

}  // namespace kyutai::scalar
