#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/dtype.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#define KYUTAI_SIMD simd128
#else
#define KYUTAI_SIMD scalar
#endif

namespace kyutai {

namespace scalar {

void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out) {
  std::fill(out, out + width, 0.0f);
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0) continue;
    const float* row = tables[t] + size_t(tokens[t]) * width;
    for (int i = 0; i < width; ++i) out[i] += row[i];
  }
}

void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out) {
  std::fill(out, out + width, 0.0f);
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0) continue;
    const uint16_t* row = tables[t] + size_t(tokens[t]) * width;
    for (int i = 0; i < width; ++i) out[i] += bf16_to_f32(row[i]);
  }
}

void rms_norm(const float* x, const float* alpha, float eps, int n, float* y) {
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i] * x[i];
  float inv = 1.0f / std::sqrt(sum / float(n) + eps);
  for (int i = 0; i < n; ++i) y[i] = x[i] * ((alpha ? alpha[i] : 1.0f) * inv);
}

float dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, int n, float* y) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {

void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out) {
  std::fill(out, out + width, 0.0f);
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0) continue;
    const float* row = tables[t] + size_t(tokens[t]) * width;
    int i = 0;
    for (; i + 4 <= width; i += 4)
      wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), wasm_v128_load(row + i)));
    for (; i < width; ++i) out[i] += row[i];
  }
}

void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out) {
  std::fill(out, out + width, 0.0f);
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0) continue;
    const uint16_t* row = tables[t] + size_t(tokens[t]) * width;
    int i = 0;
    for (; i + 8 <= width; i += 8) {
      v128_t v = wasm_v128_load(row + i);
      v128_t lo = wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(v), 16);
      v128_t hi = wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(v), 16);
      wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), lo));
      wasm_v128_store(out + i + 4, wasm_f32x4_add(wasm_v128_load(out + i + 4), hi));
    }
    for (; i < width; ++i) out[i] += bf16_to_f32(row[i]);
  }
}

inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

float dot(const float* a, const float* b, int n) {
  v128_t acc = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4)
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float s = hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, int n, float* y) {
  v128_t av = wasm_f32x4_splat(a);
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(av, wasm_v128_load(x + i))));
  for (; i < n; ++i) y[i] += a * x[i];
}

void rms_norm(const float* x, const float* alpha, float eps, int n, float* y) {
  float inv = 1.0f / std::sqrt(dot(x, x, n) / float(n) + eps);
  v128_t iv = wasm_f32x4_splat(inv);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t g = alpha ? wasm_f32x4_mul(wasm_v128_load(alpha + i), iv) : iv;
    wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(x + i), g));
  }
  for (; i < n; ++i) y[i] = x[i] * ((alpha ? alpha[i] : 1.0f) * inv);
}

}  // namespace simd128
#endif

void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out) {
  KYUTAI_SIMD::gather_sum_f32(tables, tokens, count, width, out);
}
void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out) {
  KYUTAI_SIMD::gather_sum_bf16(tables, tokens, count, width, out);
}
void rms_norm(const float* x, const float* alpha, float eps, int n, float* y) {
  KYUTAI_SIMD::rms_norm(x, alpha, eps, n, y);
}
float dot(const float* a, const float* b, int n) { return KYUTAI_SIMD::dot(a, b, n); }
void axpy(float a, const float* x, int n, float* y) { KYUTAI_SIMD::axpy(a, x, n, y); }

void layer_norm(const float* x, const float* weight, const float* bias, float eps, int n, float* y) {
  float mean = 0;
  for (int i = 0; i < n; ++i) mean += x[i];
  mean /= float(n);
  float var = 0;
  for (int i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= float(n);
  float inv = 1.0f / std::sqrt(var + eps);
  for (int i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
}

void softmax(float* x, int n) {
  float m = -INFINITY;
  for (int i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (std::isnan(m) || std::isinf(m)) {
    // All -inf (nothing to attend to) or NaN/inf present: the result is undefined, make it NaN.
    bool has_nan = false;
    for (int i = 0; i < n; ++i) has_nan |= std::isnan(x[i]);
    if (has_nan || m == -INFINITY || m == INFINITY) {
      for (int i = 0; i < n; ++i) x[i] = NAN;
      return;
    }
  }
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void add_inplace(const float* x, int n, float* y) {
  for (int i = 0; i < n; ++i) y[i] += x[i];
}

void scale_inplace(const float* s, int n, float* y) {
  for (int i = 0; i < n; ++i) y[i] *= s[i];
}

float activate(Activation a, float x) {
  switch (a) {
    case Activation::Gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Activation::Silu: return x / (1.0f + std::exp(-x));
    case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::Tanh: return std::tanh(x);
    case Activation::Relu: return x > 0 ? x : 0.0f;
    case Activation::LeakyRelu: return x > 0 ? x : 0.01f * x;
    case Activation::Elu: return x > 0 ? x : std::expm1(x);
    case Activation::Mish: return x * std::tanh(std::log1p(std::exp(x)));
    case Activation::Softsign: return x / (1.0f + std::fabs(x));
    case Activation::Identity: return x;
  }
  return x;
}

void activate_inplace(Activation a, float* x, int n) {
  for (int i = 0; i < n; ++i) x[i] = activate(a, x[i]);
}

void apply_rope(float* v, int heads, int d_head, int64_t position, double max_period, bool interleave) {
  const int half = d_head / 2;
  // Same float32 steps as moshi.modules.rope.apply_rope.
  const float coef = float(-std::log(max_period) * 2.0 / d_head);
  const float ts = float(position);
  for (int i = 0; i < half; ++i) {
    float freq = std::exp(float(i) * coef);
    float angle = freq * ts;
    float c = std::cos(angle), s = std::sin(angle);
    for (int h = 0; h < heads; ++h) {
      float* x = v + size_t(h) * d_head;
      float* re = interleave ? x + 2 * i : x + i;
      float* im = interleave ? x + 2 * i + 1 : x + i + half;
      float r = *re, m = *im;
      *re = r * c - m * s;
      *im = r * s + m * c;
    }
  }
}

void add_sin_embedding(float* y, int dim, int64_t position, double max_period, float scale) {
  const int half = dim / 2;
  const float pos = float(position);
  const float period = float(max_period);
  for (int i = 0; i < half; ++i) {
    float expo = float(i) / float(half - 1);
    float phase = pos / std::pow(period, expo);
    y[i] += scale * std::cos(phase);
    y[half + i] += scale * std::sin(phase);
  }
}

}  // namespace kyutai
