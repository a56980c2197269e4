#include "codec/codebook.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "io/dtype.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include "kernels/bf16_simd128.h"
#endif

namespace kyutai {

namespace {

constexpr int kPanel = 8;
// Within a panel, bin l's 16-bit halves sit at position (l % 4) * 2 + l / 4: a 32-bit lane
// holds bins j and j + 4, so SIMD widens the high halves of bins 0-3 and 4-7 with a shift and
// a mask (bf16_even / bf16_odd) instead of shuffles.
constexpr int position(int l) { return (l % 4) * 2 + l / 4; }

// The bound's rounding term: every float rounding in both passes (sums of up to a few
// thousand products, |v|^2, |c|^2) stays far below 2^-12 (|v| + |c|)^2.
constexpr float kRoundingSlack = 1.0f / 4096.0f;
constexpr float kTiny = 1e-30f;  // keeps the bound positive for all-zero vectors

float from_halves(uint16_t high, uint16_t low) {
  const uint32_t bits = (uint32_t(high) << 16) | low;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

Codebook::Codebook(const std::vector<float>& centroids, int bins, int dimension) : bins_(bins), dimension_(dimension) {
  if (bins <= 0 || dimension <= 0 || centroids.size() != size_t(bins) * dimension)
    fail(ErrorCode::InvalidArgument, "codebook: ", centroids.size(), " values for ", bins, " bins of dimension ",
         dimension);
  const int panels = this->panels();
  high_.assign(size_t(panels) * dimension * kPanel, 0);
  low_.assign(high_.size(), 0);
  // Padding bins rank last: an infinite |c|^2 puts both bounds at infinity.
  squared_norm_.assign(size_t(panels) * kPanel, std::numeric_limits<float>::infinity());
  norm_.assign(squared_norm_.size(), 0.0f);
  truncation_.assign(squared_norm_.size(), 0.0f);
  for (int b = 0; b < bins; ++b) {
    double squares = 0, truncated = 0;
    for (int d = 0; d < dimension; ++d) {
      const float c = centroids[size_t(b) * dimension + d];
      uint32_t bits;
      std::memcpy(&bits, &c, sizeof bits);
      const size_t at = slot(b, d);
      high_[at] = uint16_t(bits >> 16);
      low_[at] = uint16_t(bits & 0xffffu);
      const double rest = double(c) - double(bf16_to_f32(high_[at]));
      squares += double(c) * c;
      truncated += rest * rest;
    }
    squared_norm_[b] = float(squares);
    norm_[b] = float(std::sqrt(squares));
    truncation_[b] = float(std::sqrt(truncated) * (1 + 1e-6));
  }
}

int Codebook::panels() const { return (bins_ + kPanel - 1) / kPanel; }

size_t Codebook::slot(int code, int d) const {
  return (size_t(code / kPanel) * dimension_ + d) * kPanel + position(code % kPanel);
}

float Codebook::value(int code, int d) const {
  const size_t at = slot(code, d);
  return from_halves(high_[at], low_[at]);
}

void Codebook::add(int code, float sign, float* out) const {
  for (int d = 0; d < dimension_; ++d) out[d] += sign * value(code, d);
}

float Codebook::distance(const float* v, int code) const {
  float sum = 0;
  for (int d = 0; d < dimension_; ++d) {
    const float diff = v[d] - value(code, d);
    sum += diff * diff;
  }
  return sum;
}

// |v - c|^2 = |v|^2 + |c|^2 - 2 v.c, and v.c is within |v| |c - high(c)| of v.high(c)
// (Cauchy-Schwarz), so each bin's distance minus |v|^2 lies within
// |c|^2 - 2 v.high(c) -+ (2 |v| |c - high(c)| + rounding).
#ifdef __wasm_simd128__
void Codebook::bound_distances(const float* v, float v_norm, int panel_begin, int panel_end, float* lower,
                               float* upper) const {
  using simd128::bf16_even;
  using simd128::bf16_odd;
  const int D = dimension_;
  const v128_t two = wasm_f32x4_splat(2.0f), vn = wasm_f32x4_splat(v_norm);
  const v128_t slack = wasm_f32x4_splat(kRoundingSlack), tiny = wasm_f32x4_splat(kTiny);
  for (int p = panel_begin; p < panel_end; ++p) {
    const uint16_t* h = high_.data() + size_t(p) * D * kPanel;
    // Bins 0-3 and 4-7 of the panel, with even and odd dimensions in separate sums so that
    // four chains of additions run side by side.
    v128_t lo0 = wasm_f32x4_splat(0.0f), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    int d = 0;
    for (; d + 2 <= D; d += 2, h += 2 * kPanel) {
      const v128_t x0 = wasm_v128_load32_splat(v + d), x1 = wasm_v128_load32_splat(v + d + 1);
      const v128_t w0 = wasm_v128_load(h), w1 = wasm_v128_load(h + kPanel);
      lo0 = wasm_f32x4_add(lo0, wasm_f32x4_mul(bf16_even(w0), x0));
      hi0 = wasm_f32x4_add(hi0, wasm_f32x4_mul(bf16_odd(w0), x0));
      lo1 = wasm_f32x4_add(lo1, wasm_f32x4_mul(bf16_even(w1), x1));
      hi1 = wasm_f32x4_add(hi1, wasm_f32x4_mul(bf16_odd(w1), x1));
    }
    if (d < D) {
      const v128_t x = wasm_v128_load32_splat(v + d), w = wasm_v128_load(h);
      lo0 = wasm_f32x4_add(lo0, wasm_f32x4_mul(bf16_even(w), x));
      hi0 = wasm_f32x4_add(hi0, wasm_f32x4_mul(bf16_odd(w), x));
    }
    const v128_t dots[2] = {wasm_f32x4_add(lo0, lo1), wasm_f32x4_add(hi0, hi1)};
    for (int q = 0; q < 2; ++q) {
      const size_t at = size_t(p) * kPanel + 4 * q;
      const v128_t n = wasm_v128_load(norm_.data() + at), vn_n = wasm_f32x4_add(vn, n);
      const v128_t mid = wasm_f32x4_sub(wasm_v128_load(squared_norm_.data() + at), wasm_f32x4_mul(two, dots[q]));
      const v128_t gap = wasm_f32x4_add(
          wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(two, vn), wasm_v128_load(truncation_.data() + at)),
                         wasm_f32x4_mul(slack, wasm_f32x4_mul(vn_n, vn_n))),
          tiny);
      wasm_v128_store(lower + at, wasm_f32x4_sub(mid, gap));
      wasm_v128_store(upper + at, wasm_f32x4_add(mid, gap));
    }
  }
}
#else
void Codebook::bound_distances(const float* v, float v_norm, int panel_begin, int panel_end, float* lower,
                               float* upper) const {
  const int D = dimension_;
  for (int p = panel_begin; p < panel_end; ++p) {
    const uint16_t* h = high_.data() + size_t(p) * D * kPanel;
    for (int l = 0; l < kPanel; ++l) {
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += v[d] * bf16_to_f32(h[size_t(d) * kPanel + position(l)]);
      const size_t at = size_t(p) * kPanel + l;
      const float mid = squared_norm_[at] - 2 * dot, vn_n = v_norm + norm_[at];
      const float gap = 2 * v_norm * truncation_[at] + kRoundingSlack * vn_n * vn_n + kTiny;
      lower[at] = mid - gap;
      upper[at] = mid + gap;
    }
  }
}
#endif

int Codebook::nearest(const float* v, ThreadPool* pool) const {
  const int panels = this->panels();
  double squares = 0;
  for (int d = 0; d < dimension_; ++d) squares += double(v[d]) * v[d];
  const float v_norm = float(std::sqrt(squares) * (1 + 1e-6));
  std::vector<float> lower(size_t(panels) * kPanel), upper(lower.size());
  auto bound = [&](int pb, int pe) { bound_distances(v, v_norm, pb, pe, lower.data(), upper.data()); };
  if (pool && pool->threads() > 1) pool->parallel_for(panels, bound);
  else bound(0, panels);
  // The exact nearest bin's distance is at most every bin's upper bound, so its lower bound is
  // at most their minimum: only bins with lower <= that minimum can win.
  float least_upper = std::numeric_limits<float>::infinity();
  for (float u : upper) least_upper = u < least_upper ? u : least_upper;
  int best = -1;
  float best_distance = 0;
  auto consider = [&](int b) {
    const float dist = distance(v, b);
    if (best < 0 || dist < best_distance) {
      best = b;
      best_distance = dist;
    }
  };
  // Bin 0 always, as the exact search starts from it (and keeps it if its distance is NaN); a
  // NaN bound (overflow) rules nothing out, and with no finite upper bound every bin is computed.
  const bool every_bin = !(least_upper < std::numeric_limits<float>::infinity());
  consider(0);
  for (int b = 1; b < bins_; ++b)
    if (every_bin || !(lower[b] > least_upper)) consider(b);
  return best;
}

}  // namespace kyutai
