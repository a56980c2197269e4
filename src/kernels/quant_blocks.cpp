#include "kernels/quant_blocks.h"

#include <algorithm>
#include <cmath>

#include "io/dtype.h"

namespace kyutai::quant {

namespace {

inline int round_clamp(float v, int lo, int hi) {
  return int(std::min(float(hi), std::max(float(lo), std::nearbyint(v))));
}

// A block's affine fit w ~ scale * L + offset, L in 0..15, offset <= 0 (Q4_K stores -offset
// as a non-negative min).
struct Fit {
  float scale = 0, offset = 0, err = INFINITY;
};

float fit_error(const float* w, const uint8_t* L, float scale, float offset) {
  float err = 0;
  for (int i = 0; i < kBlock; ++i) {
    const float d = scale * float(L[i]) + offset - w[i];
    err += d * d;
  }
  return err;
}

void levels(const float* w, float inv, float offset, uint8_t* L) {
  for (int i = 0; i < kBlock; ++i) L[i] = uint8_t(round_clamp((w[i] - offset) * inv, 0, 15));
}

// Least-squares scale and offset for fixed levels L, offset kept <= 0.
Fit least_squares(const float* w, const uint8_t* L) {
  double sl = 0, sl2 = 0, sx = 0, sxl = 0;
  for (int i = 0; i < kBlock; ++i) {
    sl += L[i];
    sl2 += double(L[i]) * L[i];
    sx += w[i];
    sxl += double(w[i]) * L[i];
  }
  Fit f;
  const double det = kBlock * sl2 - sl * sl;
  if (det > 0) {
    f.scale = float((kBlock * sxl - sx * sl) / det);
    f.offset = float((sl2 * sx - sl * sxl) / det);
  }
  if (f.offset > 0 || det <= 0) {
    f.offset = 0;
    f.scale = sl2 > 0 ? float(sxl / sl2) : 0.0f;
  }
  f.scale = std::max(f.scale, 0.0f);
  f.err = fit_error(w, L, f.scale, f.offset);
  return f;
}

// The best (scale, offset) for one block: levels from `steps` grids spanning [min(w, 0), max(w)]
// a little narrower or wider than 15 steps, each refitted by least squares, then the winner
// re-levelled and refitted until the error stops falling.
Fit search_block(const float* w, int steps) {
  float lo = 0, hi = w[0];
  for (int i = 0; i < kBlock; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  Fit best;
  if (hi <= lo) {
    const uint8_t zeros[kBlock] = {};
    best.offset = lo;
    best.err = fit_error(w, zeros, 0, lo);
    return best;
  }
  uint8_t L[kBlock];
  for (int s = 0; s <= steps; ++s) {
    // s = 0 is the plain min-max grid; the others span 14 to 14 + steps / 10 steps.
    const float span = s == 0 ? 15.0f : 14.0f + 0.1f * float(s - 1);
    levels(w, span / (hi - lo), lo, L);
    const Fit f = least_squares(w, L);
    if (f.err < best.err) best = f;
  }
  for (int iter = 0; iter < 4 && best.scale > 0; ++iter) {
    levels(w, 1.0f / best.scale, best.offset, L);
    const Fit f = least_squares(w, L);
    if (!(f.err < best.err)) break;
    best = f;
  }
  return best;
}

// Squared error of a block under 6-bit codes (sc, m) of the super-block's d and dmin, with
// each value's level chosen by rounding.
float code_error(const float* w, float d, float dmin, int sc, int m, uint8_t* L) {
  const float scale = d * float(sc), offset = -dmin * float(m);
  if (scale > 0) levels(w, 1.0f / scale, offset, L);
  else std::fill(L, L + kBlock, uint8_t(0));
  return fit_error(w, L, scale, offset);
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
  uint8_t L[kBlock];
  for (int b = 0; b < kSubBlocks; ++b) {
    const float* x = w + b * kBlock;
    const int sc0 = d > 0 ? round_clamp(fits[b].scale / d, 0, 63) : 0;
    const int m0 = dmin > 0 ? round_clamp(-fits[b].offset / dmin, 0, 63) : 0;
    // Rounding the codes moves the block's grid: the neighbouring codes may fit it better.
    int best_sc = sc0, best_m = m0;
    float best_err = INFINITY;
    for (int sc = std::max(0, sc0 - 1); sc <= std::min(63, sc0 + 1); ++sc)
      for (int m = std::max(0, m0 - 1); m <= std::min(63, m0 + 1); ++m) {
        const float err = code_error(x, d, dmin, sc, m, L);
        if (err < best_err) best_err = err, best_sc = sc, best_m = m;
      }
    out->sc[b] = uint8_t(best_sc);
    out->m[b] = uint8_t(best_m);
    code_error(x, d, dmin, best_sc, best_m, out->q + b * kBlock);
  }
}

void dequantize_q4_k(const Q4KSuper& s, float* w) {
  const float d = f16_to_f32(s.d), dmin = f16_to_f32(s.dmin);
  for (int b = 0; b < kSubBlocks; ++b) {
    const float scale = d * float(s.sc[b]), offset = dmin * float(s.m[b]);
    for (int i = 0; i < kBlock; ++i) w[b * kBlock + i] = scale * float(s.q[b * kBlock + i]) - offset;
  }
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
