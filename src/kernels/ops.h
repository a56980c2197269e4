// Element-wise and row-wise kernels a frame needs besides matrix products. They know
// nothing about models: sizes and constants come from the caller.
#pragma once

#include <cstdint>

namespace kyutai {

// y = x * alpha / sqrt(mean(x^2) + eps); alpha may be nullptr (ones). In-place allowed.
void rms_norm(const float* x, const float* alpha, float eps, int n, float* y);
// y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance); weight/bias may be null.
void layer_norm(const float* x, const float* weight, const float* bias, float eps, int n, float* y);
// In place over n values; NaN-safe (a NaN row stays NaN).
void softmax(float* x, int n);
float dot(const float* a, const float* b, int n);
// y += a * x
void axpy(float a, const float* x, int n, float* y);
// A bfloat16 row (raw 16 bits) against a vector split into its even and odd elements
// (even[i] = x[2i], odd[i] = x[2i + 1]; (n + 1) / 2 and n / 2 of them): sum_i x[i] * row[i], and
// even[i] += a * row[2i], odd[i] += a * row[2i + 1]. Split, a 32-bit lane holding a pair
// widens to two floats with one shift and one mask (attention over a bf16 KV cache).
float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n);
void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd);
// y += x
void add_inplace(const float* x, int n, float* y);
// y *= s (per channel when `per_channel`, else scalar s[0])
void scale_inplace(const float* s, int n, float* y);

enum class Activation { Gelu, Silu, Sigmoid, Tanh, Relu, LeakyRelu, Elu, Mish, Softsign, Identity };
float activate(Activation a, float x);
void activate_inplace(Activation a, float* x, int n);

// Rotates pairs of each of `heads` vectors of `d_head` values by position * freq_i,
// freq_i = exp(-ln(max_period) * 2i / d_head): interleaved pairs (2i, 2i+1) or, when
// `interleave` is false, (i, i + d_head/2). Computed in float32 the way Kyutai's code does.
void apply_rope(float* v, int heads, int d_head, int64_t position, double max_period, bool interleave);

// Kyutai's sinusoidal embedding for one position: [cos(phase_0..half-1) | sin(...)],
// phase_i = pos / max_period^(i / (half - 1)); y += scale * E.
void add_sin_embedding(float* y, int dim, int64_t position, double max_period, float scale);

// out[0..width) = sum over tables of table[t][token_t * width ...], skipping tokens < 0.
// `tables[t]` are float32 rows (bf16 variant below). Overwrites out.
void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out);
void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out);

// out[i] = exp(x[i] - shift), returning the sum of the outputs (softmax and attention).
float exp_shifted(const float* x, float shift, int n, float* out);

namespace scalar {
float exp_shifted(const float* x, float shift, int n, float* out);
void activate_inplace(Activation a, float* x, int n);
void rotate_pairs(float* v, int heads, int d_head, const float* cos_, const float* sin_, bool interleave);
void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out);
void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out);
void rms_norm(const float* x, const float* alpha, float eps, int n, float* y);
float dot(const float* a, const float* b, int n);
void axpy(float a, const float* x, int n, float* y);
float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n);
void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd);
}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
// A polynomial exp (Cephes expf: range reduction by ln 2, degree-5 polynomial), within 2 ulp
// of std::exp over the range softmax sees; WebAssembly SIMD has no transcendental ops.
float exp_shifted(const float* x, float shift, int n, float* out);
// ELU and SiLU with the same polynomial exp (expm1 near 0 by its Taylor series), within
// 3e-7 relative of the scalar formulas; other activations use the scalar ones.
void activate_inplace(Activation a, float* x, int n);
void rotate_pairs(float* v, int heads, int d_head, const float* cos_, const float* sin_, bool interleave);
void gather_sum_f32(const float* const* tables, const int32_t* tokens, int count, int width, float* out);
void gather_sum_bf16(const uint16_t* const* tables, const int32_t* tokens, int count, int width, float* out);
void rms_norm(const float* x, const float* alpha, float eps, int n, float* y);
float dot(const float* a, const float* b, int n);
void axpy(float a, const float* x, int n, float* y);
float dot_bf16_split(const float* even, const float* odd, const uint16_t* row, int n);
void axpy_bf16_split(float a, const uint16_t* row, int n, float* even, float* odd);
}  // namespace simd128
#endif

}  // namespace kyutai
