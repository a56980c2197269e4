#include "kernels/quant_blocks.h"

#include <algorithm>
#include <cmath>

#include "io/dtype.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

namespace kyutai::quant {

namespace {

inline int round_clamp(float v, int lo, int hi) {
  return int(std::min(float(hi), std::max(float(lo), std::nearbyint(v))));
}

// A block's affine fit w ~ scale * L + offset, L in 0..15, offset <= 0 (Q4_K stores -offset
// as a non-negative min).
struct Fit {
  float scale = 0, offset = 0;
  double err = INFINITY;
};

// The sums that give any fit's squared error without another pass over the block: the search
// tries dozens of fits per block, and loading converts whole models with it.
struct BlockSums {
  double sx = 0, sx2 = 0;
};
struct LevelSums {
  double sl = 0, sl2 = 0, sxl = 0;
};

BlockSums block_sums(const float* w) {
  BlockSums b;
  for (int i = 0; i < kBlock; ++i) b.sx += w[i], b.sx2 += double(w[i]) * w[i];
  return b;
}

// sum over the block of (scale L + offset - w)^2, expanded.
double fit_error(const BlockSums& b, const LevelSums& s, double scale, double offset) {
  return scale * scale * s.sl2 + 2 * scale * offset * s.sl - 2 * scale * s.sxl + kBlock * offset * offset -
         2 * offset * b.sx + b.sx2;
}

// Each value's level under (1 / inv, offset): round, clamped to 0..15.
void levels(const float* w, float inv, float offset, uint8_t* L) {
  for (int i = 0; i < kBlock; ++i) L[i] = uint8_t(round_clamp((w[i] - offset) * inv, 0, 15));
}

// The sums of those levels (the search needs no more), in float with four partial sums by
// i % 4: the lanes of the SIMD128 version, which gives the same bits. Loading converts whole
// models through this loop (a few dozen candidates per block).
LevelSums level_sums(const float* w, float inv, float offset) {
  float sl[4], sl2[4], sxl[4];
#ifdef __wasm_simd128__
  const v128_t vi = wasm_f32x4_splat(inv), vo = wasm_f32x4_splat(offset), lo = wasm_f32x4_splat(0.0f),
               hi = wasm_f32x4_splat(15.0f);
  v128_t a = wasm_f32x4_splat(0.0f), a2 = a, ax = a;
  for (int i = 0; i < kBlock; i += 4) {
    const v128_t x = wasm_v128_load(w + i);
    // pmin/pmax are std::min/std::max exactly (the first operand wins ties and NaN).
    const v128_t l = wasm_f32x4_pmin(
        hi, wasm_f32x4_pmax(lo, wasm_f32x4_nearest(wasm_f32x4_mul(wasm_f32x4_sub(x, vo), vi))));
    a = wasm_f32x4_add(a, l);
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(l, l));
    ax = wasm_f32x4_add(ax, wasm_f32x4_mul(x, l));
  }
  wasm_v128_store(sl, a);
  wasm_v128_store(sl2, a2);
  wasm_v128_store(sxl, ax);
#else
  for (int j = 0; j < 4; ++j) sl[j] = sl2[j] = sxl[j] = 0.0f;
  for (int i = 0; i < kBlock; ++i) {
    const float l = std::min(15.0f, std::max(0.0f, std::nearbyint((w[i] - offset) * inv)));
    sl[i % 4] = sl[i % 4] + l;
    sl2[i % 4] = sl2[i % 4] + l * l;
    sxl[i % 4] = sxl[i % 4] + w[i] * l;
  }
#endif
  auto total = [](const float* v) { return double((v[0] + v[1]) + (v[2] + v[3])); };
  return {total(sl), total(sl2), total(sxl)};
}

// Least-squares scale and offset for fixed levels, offset kept <= 0.
Fit least_squares(const BlockSums& b, const LevelSums& s) {
  Fit f;
  const double det = kBlock * s.sl2 - s.sl * s.sl;
  if (det > 0) {
    f.scale = float((kBlock * s.sxl - b.sx * s.sl) / det);
    f.offset = float((s.sl2 * b.sx - s.sl * s.sxl) / det);
  }
  if (f.offset > 0 || det <= 0) {
    f.offset = 0;
    f.scale = s.sl2 > 0 ? float(s.sxl / s.sl2) : 0.0f;
  }
  f.scale = std::max(f.scale, 0.0f);
  f.err = fit_error(b, s, f.scale, f.offset);
  return f;
}

// The best (scale, offset) for one block: levels from `steps` grids spanning [min(w, 0), max(w)]
// a little narrower or wider than 15 steps, each refitted by least squares, then the winner
// re-levelled and refitted until the error stops falling.
Fit search_block(const float* w, int steps) {
  float lo = 0, hi = w[0];
  for (int i = 0; i < kBlock; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  const BlockSums sums = block_sums(w);
  Fit best;
  if (hi <= lo) {
    best.offset = lo;
    best.err = fit_error(sums, LevelSums{}, 0, lo);
    return best;
  }
  for (int s = 0; s <= steps; ++s) {
    // s = 0 is the plain min-max grid; the others span 14 to 14 + steps / 10 steps.
    const float span = s == 0 ? 15.0f : 14.0f + 0.1f * float(s - 1);
    const Fit f = least_squares(sums, level_sums(w, span / (hi - lo), lo));
    if (f.err < best.err) best = f;
  }
  for (int iter = 0; iter < 4 && best.scale > 0; ++iter) {
    const Fit f = least_squares(sums, level_sums(w, 1.0f / best.scale, best.offset));
    if (!(f.err < best.err)) break;
    best = f;
  }
  return best;
}

// Squared error of a block under 6-bit codes (sc, m) of the super-block's d and dmin, with
// each value's level chosen by rounding.
double code_error(const float* w, const BlockSums& sums, float d, float dmin, int sc, int m) {
  const float scale = d * float(sc), offset = -dmin * float(m);
  return fit_error(sums, scale > 0 ? level_sums(w, 1.0f / scale, offset) : LevelSums{}, scale, offset);
}

}  // namespace

uint16_t quantize_q8_0(const float* w, int8_t* q) {
  float amax = 0;
  for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(w[i]));
  // Clamped to fp16's largest finite value, so every stored scale is finite (kernels may widen
  // fp16 with integer arithmetic that assumes it).
  const uint16_t d16 = f32_to_f16(std::min(amax / 127.0f, 65504.0f));
  const float d = f16_to_f32(d16), inv = d > 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < kBlock; ++i) q[i] = int8_t(round_clamp(w[i] * inv, -127, 127));
  return d16;
}

void quantize_q4_k(const float* w, Q4KSuper* out, int steps) {
  Fit fits[kSubBlocks];
  float max_scale = 0, max_min = 0;
  for (int b = 0; b < kSubBlocks; ++b) {
    fits[b] = search_block(w + b * kBlock, steps);
    max_scale = std::max(max_scale, fits[b].scale);
    max_min = std::max(max_min, -fits[b].offset);
  }
  out->d = f32_to_f16(max_scale / 63.0f);
  out->dmin = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(out->d), dmin = f16_to_f32(out->dmin);
  for (int b = 0; b < kSubBlocks; ++b) {
    const float* x = w + b * kBlock;
    const int sc0 = d > 0 ? round_clamp(fits[b].scale / d, 0, 63) : 0;
    const int m0 = dmin > 0 ? round_clamp(-fits[b].offset / dmin, 0, 63) : 0;
    // Rounding the codes moves the block's grid: the neighbouring codes may fit it better.
    const BlockSums sums = block_sums(x);
    int best_sc = sc0, best_m = m0;
    double best_err = INFINITY;
    for (int sc = std::max(0, sc0 - 1); sc <= std::min(63, sc0 + 1); ++sc)
      for (int m = std::max(0, m0 - 1); m <= std::min(63, m0 + 1); ++m) {
        const double err = code_error(x, sums, d, dmin, sc, m);
        if (err < best_err) best_err = err, best_sc = sc, best_m = m;
      }
    out->sc[b] = uint8_t(best_sc);
    out->m[b] = uint8_t(best_m);
    const float scale = d * float(best_sc);
    if (scale > 0) levels(x, 1.0f / scale, -dmin * float(best_m), out->q + b * kBlock);
    else std::fill(out->q + b * kBlock, out->q + (b + 1) * kBlock, uint8_t(0));
  }
}

void dequantize_q4_k(const Q4KSuper& s, float* w) {
  const float d = f16_to_f32(s.d), dmin = f16_to_f32(s.dmin);
  for (int b = 0; b < kSubBlocks; ++b) {
    const float scale = d * float(s.sc[b]), offset = dmin * float(s.m[b]);
    for (int i = 0; i < kBlock; ++i) w[b * kBlock + i] = scale * float(s.q[b * kBlock + i]) - offset;
  }
}

void store_q4_k_scales(const Q4KSuper& s, uint8_t* out) {
  uint8_t codes[2 * kSubBlocks];
  std::copy(s.sc, s.sc + kSubBlocks, codes);
  std::copy(s.m, s.m + kSubBlocks, codes + kSubBlocks);
  std::fill(out, out + kQ4KScaleBytes, uint8_t(0));
  out[0] = uint8_t(s.d), out[1] = uint8_t(s.d >> 8), out[2] = uint8_t(s.dmin), out[3] = uint8_t(s.dmin >> 8);
  for (int i = 0; i < 2 * kSubBlocks; ++i) {
    const unsigned code = codes[i] & 63u, bit = 6u * unsigned(i);
    out[4 + bit / 8] |= uint8_t(code << (bit % 8));
    if (bit % 8 > 2) out[4 + bit / 8 + 1] |= uint8_t(code >> (8 - bit % 8));
  }
}

void load_q4_k_scales(const uint8_t* in, Q4KSuper* s) {
  s->d = uint16_t(in[0] | in[1] << 8);
  s->dmin = uint16_t(in[2] | in[3] << 8);
  uint8_t codes[2 * kSubBlocks];
  for (int i = 0; i < 2 * kSubBlocks; ++i) {
    const unsigned bit = 6u * unsigned(i);
    unsigned v = in[4 + bit / 8] >> (bit % 8);
    if (bit % 8 > 2) v |= unsigned(in[4 + bit / 8 + 1]) << (8 - bit % 8);
    codes[i] = uint8_t(v & 63u);
  }
  std::copy(codes, codes + kSubBlocks, s->sc);
  std::copy(codes + kSubBlocks, codes + 2 * kSubBlocks, s->m);
}

float quantize_activations(const float* x, int8_t* q, int32_t* sum) {
  float amax = 0;
  for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
  int32_t total = 0;
  for (int i = 0; i < kBlock; ++i) {
    q[i] = int8_t(round_clamp(x[i] * inv, -127, 127));
    total += q[i];
  }
  *sum = total;
  return scale;
}

}  // namespace kyutai::quant
