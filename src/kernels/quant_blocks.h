// Block quantizers of the Q8_0 / Q4_K class (the formats llama.cpp and candle use, issue 31),
// one row segment at a time, independent of any packed layout:
//   Q8_0: per 32 inputs an fp16 scale d and 32 int8 values, w = d q (8.5 bits per weight).
//   Q4_K: per 256 inputs fp16 d and dmin, per 32 of them 6-bit codes sc and m, and 4-bit values
//         q in 0..15: w = d sc q - dmin m (4.5 bits per weight). The codes are found by a
//         least-squares search over each block's scale and offset (ggml's make_qkx2 idea,
//         written anew here) followed by a search over the neighbouring 6-bit codes.
//   Activations: per 32 values an f32 scale and int8 values (|q| <= 127), with their sums, which
//         the Q4_K offset term needs.
#pragma once

#include <cstdint>

namespace kyutai::quant {

constexpr int kBlock = 32;        // inputs per scale (weights and activations)
constexpr int kSuperBlock = 256;  // Q4_K inputs per (d, dmin)
constexpr int kSubBlocks = kSuperBlock / kBlock;

// One Q8_0 block: q[i] = round(w[i] / d) (ties to even), |q| <= 127, d = fp16(max|w| / 127).
// Returns d as fp16 bits; an all-zero block gives d = 0 and q = 0.
uint16_t quantize_q8_0(const float* w, int8_t* q);

// One Q4_K super-block (256 inputs) in unpacked form.
struct Q4KSuper {
  uint16_t d = 0, dmin = 0;                         // fp16 bits
  uint8_t sc[kSubBlocks] = {}, m[kSubBlocks] = {};  // 6-bit codes (0..63)
  uint8_t q[kSuperBlock] = {};                      // 0..15
};

// `steps`: grids tried per block besides the min-max one (ggml's reference tries 20); the
// converter uses the default, load-time conversion passes fewer (LoadOptions::q4_search_steps).
constexpr int kQ4KSearchSteps = 24;
void quantize_q4_k(const float* w, Q4KSuper* out, int steps = kQ4KSearchSteps);
// The weights a super-block stands for: w[i] = d sc q - dmin m, in float.
void dequantize_q4_k(const Q4KSuper& s, float* w);

// A super-block's scales as a file stores them, kQ4KScaleBytes bytes: d and dmin (fp16, little
// endian), then the 16 six-bit codes sc[0..7], m[0..7] as one little-endian bit stream (the
// same 12 bytes per super-block as ggml's block_q4_K, in a plainer order). With the 4-bit values
// that is 4.5 bits per weight.
constexpr int kQ4KScaleBytes = 16;
void store_q4_k_scales(const Q4KSuper& s, uint8_t* out);
void load_q4_k_scales(const uint8_t* in, Q4KSuper* s);

// One block of activations: q[i] = round(x[i] / scale), scale = max|x| / 127 (1 for a zero
// block); returns scale and stores the sum of q in *sum.
float quantize_activations(const float* x, int8_t* q, int32_t* sum);

}  // namespace kyutai::quant
