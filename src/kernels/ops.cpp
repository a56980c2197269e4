#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "io/dtype.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include "kernels/bf16_simd128.h"
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

float exp_shifted(const float* x, float shift, int n, float* out) {
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += (out[i] = std::exp(x[i] - shift));
  return sum;
}

void activate_inplace(Activation a, float* x, int n) {
  for (int i = 0; i < n; ++i) x[i] = activate(a, x[i]);
}

// Rotates each head's pairs by the angle whose cosine/sine are cos_[i], sin_[i] (i < d/2).
void rotate_pairs(float* v, int heads, int d_head, const float* cos_, const float* sin_, bool interleave) {
  const int half = d_head / 2;
  for (int h = 0; h < heads; ++h) {
    float* x = v + size_t(h) * d_head;
    for (int i = 0; i < half; ++i) {
      float* re = interleave ? x + 2 * i : x + i;
      float* im = interleave ? x + 2 * i + 1 : x + i + half;
      const float r = *re, m = *im;
      *re = r * cos_[i] - m * sin_[i];
      *im = r * sin_[i] + m * cos_[i];
    }
  }
}

float dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, int n, float* y) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += (i & 1 ? odd : even)[i / 2] * bf16_to_f32(row[i]);
  return s;
}

void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd) {
  for (int i = 0; i < n; ++i) (i & 1 ? odd : even)[i / 2] += a * bf16_to_f32(row[i]);
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
      wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), bf16_low(v)));
      wasm_v128_store(out + i + 4, wasm_f32x4_add(wasm_v128_load(out + i + 4), bf16_high(v)));
    }
    for (; i < width; ++i) out[i] += bf16_to_f32(row[i]);
  }
}

inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

// Cephes-style expf over 4 lanes.
inline v128_t exp4(v128_t x) {
  const v128_t hi = wasm_f32x4_splat(88.3762626647949f), lo = wasm_f32x4_splat(-87.3365478515625f);
  const v128_t underflow = wasm_f32x4_lt(x, lo);  // exp is 0 there (and for -inf, masked slots)
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, lo), hi);
  v128_t fx = wasm_f32x4_floor(
      wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), wasm_f32x4_splat(0.5f)));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, wasm_f32x4_splat(0.693359375f)));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t y = wasm_f32x4_splat(1.9875691500e-4f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(1.3981999507e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(8.3334519073e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(4.1665795894e-2f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(1.6666665459e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(5.0000001201e-1f));
  y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(y, wasm_f32x4_mul(x, x)), x), wasm_f32x4_splat(1.0f));
  // 2^fx through the exponent bits.
  v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fx), wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(y, pow2), underflow);
}

float exp_shifted(const float* x, float shift, int n, float* out) {
  const v128_t s = wasm_f32x4_splat(shift);
  v128_t acc = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), s));
    wasm_v128_store(out + i, e);
    acc = wasm_f32x4_add(acc, e);
  }
  float sum = hsum(acc);
  for (; i < n; ++i) sum += (out[i] = std::exp(x[i] - shift));
  return sum;
}

// exp(x) - 1 where x <= 0 (ELU's negative side; the caller discards the other lanes): with
// x = n ln2 + r, |r| <= ln2 / 2, expm1(x) = 2^n expm1(r) + (2^n - 1), expm1(r) = r + r^2 q(r)
// by its Taylor series to r^7 (truncation < 6e-9). With n = 0 it is the series itself, so no
// cancellation near 0; below -87 the result is -1 to float precision and 2^n stays normal.
inline v128_t expm1_nonpositive4(v128_t x) {
  x = wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.0f));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));  // Cody-Waite: exact part
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t q = wasm_f32x4_splat(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f})
    q = wasm_f32x4_add(wasm_f32x4_mul(q, r), wasm_f32x4_splat(c));
  const v128_t p = wasm_f32x4_add(wasm_f32x4_mul(q, wasm_f32x4_mul(r, r)), r);
  const v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_add(wasm_f32x4_mul(pow2, p), wasm_f32x4_sub(pow2, wasm_f32x4_splat(1.0f)));
}

// GELU(x) = x Phi(x) = x erfc(-x / sqrt 2) / 2, through erfc of |x| / sqrt 2 (Numerical
// Recipes' erfcc, relative error < 1.2e-7 everywhere): the negative side is erfc itself, with
// no 1 + erf(x) cancellation in its tail, the positive side 2 - erfc.
inline v128_t gelu4(v128_t x) {
  const v128_t z = wasm_f32x4_mul(wasm_f32x4_abs(x), wasm_f32x4_splat(0.70710678118654752f));
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t t = wasm_f32x4_div(one, wasm_f32x4_add(one, wasm_f32x4_mul(wasm_f32x4_splat(0.5f), z)));
  v128_t poly = wasm_f32x4_splat(0.17087277f);
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
    poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), wasm_f32x4_splat(c));
  const v128_t erfc = wasm_f32x4_mul(t, exp4(wasm_f32x4_sub(poly, wasm_f32x4_mul(z, z))));
  const v128_t phi2 = wasm_v128_bitselect(erfc, wasm_f32x4_sub(wasm_f32x4_splat(2.0f), erfc),
                                          wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f)));  // 2 Phi(x)
  return wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.5f), x), phi2);
}

// ELU (SEANet's activation, the codec's hottest element-wise op), SiLU and GELU (Mimi's
// transformers) over 4 lanes; the other activations go through the scalar formulas. NaN stays NaN.
void activate_inplace(Activation a, float* x, int n) {
  if (a != Activation::Elu && a != Activation::Silu && a != Activation::Gelu) {
    scalar::activate_inplace(a, x, n);
    return;
  }
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    v128_t y;
    if (a == Activation::Elu) {
      y = wasm_v128_bitselect(expm1_nonpositive4(v), v, wasm_f32x4_le(v, wasm_f32x4_splat(0.0f)));
    } else if (a == Activation::Gelu) {
      y = gelu4(v);
    } else {  // x / (1 + exp(-x)); exp4 saturates at exp(88.4): SiLU(-100) ~ -4e-37, SiLU(-inf) = -inf
      y = wasm_f32x4_div(v, wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp4(wasm_f32x4_neg(v))));
    }
    wasm_v128_store(x + i, y);
  }
  for (; i < n; ++i) x[i] = activate(a, x[i]);
}

void rotate_pairs(float* v, int heads, int d_head, const float* cos_, const float* sin_, bool interleave) {
  const int half = d_head / 2;
  if (half % 4 != 0) {
    scalar::rotate_pairs(v, heads, d_head, cos_, sin_, interleave);
    return;
  }
  for (int h = 0; h < heads; ++h) {
    float* x = v + size_t(h) * d_head;
    for (int i = 0; i < half; i += 4) {
      const v128_t c = wasm_v128_load(cos_ + i), sn = wasm_v128_load(sin_ + i);
      if (interleave) {
        // x = r0 i0 r1 i1 | r2 i2 r3 i3: split into reals and imaginaries, rotate, re-interleave.
        v128_t a = wasm_v128_load(x + 2 * i), b = wasm_v128_load(x + 2 * i + 4);
        v128_t re = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), im = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
        v128_t nr = wasm_f32x4_sub(wasm_f32x4_mul(re, c), wasm_f32x4_mul(im, sn));
        v128_t ni = wasm_f32x4_add(wasm_f32x4_mul(re, sn), wasm_f32x4_mul(im, c));
        wasm_v128_store(x + 2 * i, wasm_i32x4_shuffle(nr, ni, 0, 4, 1, 5));
        wasm_v128_store(x + 2 * i + 4, wasm_i32x4_shuffle(nr, ni, 2, 6, 3, 7));
      } else {
        v128_t re = wasm_v128_load(x + i), im = wasm_v128_load(x + i + half);
        wasm_v128_store(x + i, wasm_f32x4_sub(wasm_f32x4_mul(re, c), wasm_f32x4_mul(im, sn)));
        wasm_v128_store(x + i + half, wasm_f32x4_add(wasm_f32x4_mul(re, sn), wasm_f32x4_mul(im, c)));
      }
    }
  }
}

// Four accumulators: with one, each add waits for the previous (3-4 cycles), and attention
// over a full window is ~200k dot products of 128 values per frame.
float dot(const float* a, const float* b, int n) {
  v128_t acc[4] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0)};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 4; ++j)
      acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(wasm_v128_load(a + i + 4 * j), wasm_v128_load(b + i + 4 * j)));
  for (; i + 4 <= n; i += 4)
    acc[0] = wasm_f32x4_add(acc[0], wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float s = hsum(wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[1]), wasm_f32x4_add(acc[2], acc[3])));
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

float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n) {
  v128_t acc[4] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0)};
  int i = 0;  // row index; pairs i / 2 .. i / 2 + 3 per vector
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 2; ++j) {
      const v128_t v = wasm_v128_load(row + i + 8 * j);
      const int h = i / 2 + 4 * j;
      acc[2 * j] = wasm_f32x4_add(acc[2 * j], wasm_f32x4_mul(wasm_v128_load(even + h), bf16_even(v)));
      acc[2 * j + 1] = wasm_f32x4_add(acc[2 * j + 1], wasm_f32x4_mul(wasm_v128_load(odd + h), bf16_odd(v)));
    }
  for (; i + 8 <= n; i += 8) {
    const v128_t v = wasm_v128_load(row + i);
    acc[0] = wasm_f32x4_add(acc[0], wasm_f32x4_mul(wasm_v128_load(even + i / 2), bf16_even(v)));
    acc[1] = wasm_f32x4_add(acc[1], wasm_f32x4_mul(wasm_v128_load(odd + i / 2), bf16_odd(v)));
  }
  float s = hsum(wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[1]), wasm_f32x4_add(acc[2], acc[3])));
  for (; i < n; ++i) s += (i & 1 ? odd : even)[i / 2] * bf16_to_f32(row[i]);
  return s;
}

void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd) {
  const v128_t av = wasm_f32x4_splat(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t v = wasm_v128_load(row + i);
    float* e = even + i / 2;
    float* o = odd + i / 2;
    wasm_v128_store(e, wasm_f32x4_add(wasm_v128_load(e), wasm_f32x4_mul(av, bf16_even(v))));
    wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), wasm_f32x4_mul(av, bf16_odd(v))));
  }
  for (; i < n; ++i) (i & 1 ? odd : even)[i / 2] += a * bf16_to_f32(row[i]);
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
float exp_shifted(const float* x, float shift, int n, float* out) { return KYUTAI_SIMD::exp_shifted(x, shift, n, out); }
void axpy(float a, const float* x, int n, float* y) { KYUTAI_SIMD::axpy(a, x, n, y); }
float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n) {
  return KYUTAI_SIMD::dot_bf16_split(even, odd, row, n);
}
void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd) {
  KYUTAI_SIMD::axpy_bf16_split(a, row, n, even, odd);
}

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
  const float inv = 1.0f / exp_shifted(x, m, n, x);
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
    case Activation::Gelu: return 0.5f * x * std::erfc(-x * 0.70710678118654752f);  // no 1 + erf cancellation
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

void activate_inplace(Activation a, float* x, int n) { KYUTAI_SIMD::activate_inplace(a, x, n); }

void apply_rope(float* v, int heads, int d_head, int64_t position, double max_period, bool interleave) {
  const int half = d_head / 2;
  // Same float32 steps as moshi.modules.rope.apply_rope.
  const float coef = float(-std::log(max_period) * 2.0 / d_head);
  const float ts = float(position);
  thread_local std::vector<float> cos_, sin_;
  cos_.resize(half);
  sin_.resize(half);
  for (int i = 0; i < half; ++i) {
    const float angle = std::exp(float(i) * coef) * ts;
    cos_[i] = std::cos(angle);
    sin_[i] = std::sin(angle);
  }
  KYUTAI_SIMD::rotate_pairs(v, heads, d_head, cos_.data(), sin_.data(), interleave);
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
