#include "kernels/quant_accuracy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "io/dtype.h"
#include "kernels/gemm.h"
#include "kernels/quant_blocks.h"

namespace kyutai {

namespace {

constexpr float kSigma = 0.02f;

// splitmix64 with Box-Muller: the same numbers on every compiler and standard library.
class Normal {
 public:
  explicit Normal(uint64_t seed) : state_(seed) {}
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), a = 6.283185307179586 * uniform();
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// `count` distinct channels out of n, chosen by a seeded shuffle.
std::vector<int> pick_channels(int n, int count, Normal& rng) {
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (int i = 0; i < count; ++i) std::swap(all[i], all[i + int(rng.next() % uint64_t(n - i))]);
  all.resize(count);
  return all;
}

int padded(int in, int multiple) { return (in + multiple - 1) / multiple * multiple; }

// ggml's reference Q4_K block fit (make_qkx2 with Q4_K's arguments), as the yardstick: levels from
// 21 grids, each refitted by least squares weighted by |x| + rms(x), the best kept, no refinement.
void ggml_reference_block(const float* x, uint8_t* L, float* scale, float* min) {
  float sum_x2 = 0, lo = 0, hi = x[0], wt[quant::kBlock];
  for (int i = 0; i < quant::kBlock; ++i) sum_x2 += x[i] * x[i], lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  const float av = std::sqrt(sum_x2 / quant::kBlock);
  for (int i = 0; i < quant::kBlock; ++i) wt[i] = av + std::fabs(x[i]);
  std::fill(L, L + quant::kBlock, uint8_t(0));
  *scale = 0, *min = -lo;
  if (hi <= lo) return;
  auto level = [&](float iscale, int i) {
    return uint8_t(std::min(15.0f, std::max(0.0f, std::nearbyint(iscale * (x[i] - lo)))));
  };
  auto error = [&](const uint8_t* l, float s, float m) {
    float e = 0;
    for (int i = 0; i < quant::kBlock; ++i) e += wt[i] * (s * l[i] + m - x[i]) * (s * l[i] + m - x[i]);
    return e;
  };
  for (int i = 0; i < quant::kBlock; ++i) L[i] = level(15.0f / (hi - lo), i);
  float best_s = (hi - lo) / 15.0f, best_m = lo, best = error(L, best_s, best_m);
  uint8_t aux[quant::kBlock];
  for (int step = 0; step <= 20; ++step) {
    const float iscale = (14.0f + 0.1f * float(step)) / (hi - lo);
    float sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
    for (int i = 0; i < quant::kBlock; ++i) {
      aux[i] = level(iscale, i);
      sw += wt[i], sl += wt[i] * aux[i], sl2 += wt[i] * aux[i] * aux[i], sx += wt[i] * x[i],
          sxl += wt[i] * x[i] * aux[i];
    }
    const float det = sw * sl2 - sl * sl;
    if (det <= 0) continue;
    float s = (sw * sxl - sx * sl) / det, m = (sl2 * sx - sl * sxl) / det;
    if (m > 0) m = 0, s = sxl / sl2;
    const float e = error(aux, s, m);
    if (e < best) best = e, best_s = s, best_m = m, std::copy(aux, aux + quant::kBlock, L);
  }
  *scale = best_s, *min = -best_m;
}

void ggml_reference_q4_k(const float* w, quant::Q4KSuper* out) {
  float scales[quant::kSubBlocks], mins[quant::kSubBlocks], max_scale = 0, max_min = 0;
  uint8_t L[quant::kBlock];
  for (int j = 0; j < quant::kSubBlocks; ++j) {
    ggml_reference_block(w + j * quant::kBlock, L, &scales[j], &mins[j]);
    max_scale = std::max(max_scale, scales[j]), max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0, inv_min = max_min > 0 ? 63.0f / max_min : 0;
  for (int j = 0; j < quant::kSubBlocks; ++j) {
    out->sc[j] = uint8_t(std::min(63.0f, std::nearbyint(inv_scale * scales[j])));
    out->m[j] = uint8_t(std::min(63.0f, std::nearbyint(inv_min * mins[j])));
  }
  out->d = f32_to_f16(max_scale / 63.0f), out->dmin = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(out->d), dmin = f16_to_f32(out->dmin);
  for (int j = 0; j < quant::kSubBlocks; ++j) {
    const float dj = d * out->sc[j], mj = dmin * out->m[j];
    for (int i = 0; i < quant::kBlock; ++i) {
      const float v = dj > 0 ? std::nearbyint((w[j * quant::kBlock + i] + mj) / dj) : 0.0f;
      out->q[j * quant::kBlock + i] = uint8_t(std::min(15.0f, std::max(0.0f, v)));
    }
  }
}

// Activations quantized in blocks of 32 values; a block's scale may be shared with its
// neighbours (Q8_K: one per 256).
struct Activations {
  std::vector<float> x;  // the originals, padded with zeros
  std::vector<int8_t> q;
  std::vector<float> scale;  // per block of 32
  std::vector<int32_t> sum;  // per block of 32
};

Activations quantize_activations(std::vector<float> x, int n, int group) {
  Activations a;
  x.resize(n, 0.0f);
  a.x = std::move(x);
  a.q.resize(n);
  a.scale.resize(n / quant::kBlock);
  a.sum.resize(n / quant::kBlock);
  if (group == quant::kBlock) {
    for (int b = 0; b < n / quant::kBlock; ++b)
      a.scale[b] = quant::quantize_activations(&a.x[b * quant::kBlock], &a.q[b * quant::kBlock], &a.sum[b]);
    return a;
  }
  for (int g = 0; g < n / group; ++g) {  // Q8_K: the signed absmax maps to -128
    float amax = 0, signed_max = 0;
    for (int i = g * group; i < (g + 1) * group; ++i)
      if (std::fabs(a.x[i]) > amax) amax = std::fabs(a.x[i]), signed_max = a.x[i];
    const float iscale = amax > 0 ? -128.0f / signed_max : 0;
    for (int i = g * group; i < (g + 1) * group; ++i) {
      a.q[i] = int8_t(std::min(127.0f, std::nearbyint(iscale * a.x[i])));
      a.sum[i / quant::kBlock] += a.q[i];
    }
    for (int b = g * group / quant::kBlock; b < (g + 1) * group / quant::kBlock; ++b)
      a.scale[b] = iscale != 0 ? 1.0f / iscale : 0.0f;
  }
  return a;
}

// One Q8_0 block as the engine or as ggml's reference (which rounds with the unrounded d).
float q8_0_block(const float* w, int8_t* q, QuantMethod method) {
  if (method == QuantMethod::Engine) return f16_to_f32(quant::quantize_q8_0(w, q));
  float amax = 0;
  for (int i = 0; i < quant::kBlock; ++i) amax = std::max(amax, std::fabs(w[i]));
  const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < quant::kBlock; ++i) q[i] = int8_t(std::round(w[i] * id));
  return f16_to_f32(f32_to_f16(d));
}

// Block b's integer dot with the weights' values and the activations' block sum, scaled.
template <typename Q>
int32_t block_dot(const Q* q, const Activations& a, int b) {
  int32_t dot = 0;
  for (int i = 0; i < quant::kBlock; ++i) dot += int32_t(q[i]) * a.q[b * quant::kBlock + i];
  return dot;
}

// One row (padded to n with zeros) dequantized into `back`, and its products with each
// activation vector added to y.
void quantized_row(BlockFormat format, QuantMethod method, const float* w, int in, int n,
                   const std::vector<Activations>& acts, float* back, double* y) {
  std::vector<float> row(n, 0.0f), deq(n);
  std::copy(w, w + in, row.begin());
  if (format == BlockFormat::Q8_0) {
    int8_t q[quant::kBlock];
    for (int b = 0; b < n / quant::kBlock; ++b) {
      const float d = q8_0_block(row.data() + b * quant::kBlock, q, method);
      for (int i = 0; i < quant::kBlock; ++i) deq[b * quant::kBlock + i] = d * float(q[i]);
      for (size_t v = 0; v < acts.size(); ++v) y[v] += double(acts[v].scale[b]) * d * block_dot(q, acts[v], b);
    }
  } else {
    quant::Q4KSuper s;
    for (int sb = 0; sb < n / quant::kSuperBlock; ++sb) {
      if (method == QuantMethod::Engine) quant::quantize_q4_k(row.data() + sb * quant::kSuperBlock, &s);
      else ggml_reference_q4_k(row.data() + sb * quant::kSuperBlock, &s);
      quant::dequantize_q4_k(s, deq.data() + sb * quant::kSuperBlock);
      const double d = f16_to_f32(s.d), dmin = f16_to_f32(s.dmin);
      for (int j = 0; j < quant::kSubBlocks; ++j) {
        const int b = sb * quant::kSubBlocks + j;
        for (size_t v = 0; v < acts.size(); ++v)
          y[v] += double(acts[v].scale[b]) *
                  (d * s.sc[j] * block_dot(s.q + j * quant::kBlock, acts[v], b) - dmin * s.m[j] * acts[v].sum[b]);
      }
    }
  }
  std::copy(deq.begin(), deq.begin() + in, back);
}

}  // namespace

const char* block_format_name(BlockFormat f) { return f == BlockFormat::Q8_0 ? "Q8_0" : "Q4_K"; }

const char* weight_distribution_name(WeightDistribution d) {
  switch (d) {
    case WeightDistribution::Gauss: return "gauss";
    case WeightDistribution::StudentT4: return "student-t4";
    case WeightDistribution::OutlierChannels: return "outlier-channels";
  }
  return "?";
}

std::vector<float> synthetic_weights(WeightDistribution d, int out, int in, uint64_t seed) {
  Normal rng(seed);
  std::vector<float> w(size_t(out) * in);
  for (float& v : w) {
    double z = rng();
    if (d == WeightDistribution::StudentT4) {
      double chi2 = 0;
      for (int i = 0; i < 4; ++i) {
        const double g = rng();
        chi2 += g * g;
      }
      z /= std::sqrt(chi2 / 4.0);
    }
    v = float(z) * kSigma;
  }
  if (d == WeightDistribution::OutlierChannels)
    for (int k : pick_channels(in, in / 100, rng))
      for (int o = 0; o < out; ++o) w[size_t(o) * in + k] *= 20.0f;
  return w;
}

std::vector<float> outlier_activations(int in, uint64_t seed) {
  Normal rng(seed);
  std::vector<float> x(in);
  for (float& v : x) v = float(rng());
  for (int k : pick_channels(in, in / 200, rng)) x[k] *= 30.0f;
  return x;
}

namespace {

constexpr int kAccuracyVectors = 4;

// The matrix and the activation vectors every measurement of one (distribution, shape) uses.
std::vector<float> accuracy_weights(WeightDistribution d, int out, int in) {
  if (out <= 0 || in <= 0) fail(ErrorCode::InvalidArgument, "accuracy matrix [", out, ", ", in, "] is empty");
  return synthetic_weights(d, out, in, 0x5eed0000u + uint64_t(d) * 7919 + uint64_t(in));
}
std::vector<float> accuracy_activations(int in, int v) { return outlier_activations(in, 0xac7u + uint64_t(v)); }

}  // namespace

QuantAccuracy measure_quant_accuracy(BlockFormat format, WeightDistribution d, int out, int in, QuantMethod method) {
  const std::vector<float> w = accuracy_weights(d, out, in);
  const int n = padded(in, quant::kSuperBlock);
  const int group = format == BlockFormat::Q4_K && method == QuantMethod::GgmlReference ? quant::kSuperBlock
                                                                                        : quant::kBlock;
  std::vector<Activations> acts;
  for (int v = 0; v < kAccuracyVectors; ++v)
    acts.push_back(quantize_activations(accuracy_activations(in, v), n, group));
  double werr = 0, wnorm = 0, yerr = 0, ynorm = 0;
  std::vector<float> back(in);
  std::vector<double> y(acts.size());
  for (int o = 0; o < out; ++o) {
    const float* row = w.data() + size_t(o) * in;
    std::fill(y.begin(), y.end(), 0.0);
    quantized_row(format, method, row, in, n, acts, back.data(), y.data());
    for (int k = 0; k < in; ++k) {
      werr += (double(row[k]) - back[k]) * (double(row[k]) - back[k]);
      wnorm += double(row[k]) * row[k];
    }
    for (size_t v = 0; v < acts.size(); ++v) {
      double exact = 0;
      for (int k = 0; k < in; ++k) exact += double(row[k]) * acts[v].x[k];
      yerr += (exact - y[v]) * (exact - y[v]);
      ynorm += exact * exact;
    }
  }
  return {std::sqrt(werr / wnorm), std::sqrt(yerr / ynorm)};
}

QuantAccuracy measure_packed_accuracy(WeightFormat format, WeightDistribution d, int out, int in, int q4_search_steps) {
  const std::vector<float> w = accuracy_weights(d, out, in);
  const PackedMatrix m = pack_matrix_f32(format, out, in, w.data(), preferred_q4_layout(), q4_search_steps);
  std::vector<float> x;
  for (int v = 0; v < kAccuracyVectors; ++v) {
    const std::vector<float> a = accuracy_activations(in, v);
    x.insert(x.end(), a.begin(), a.end());
  }
  std::vector<float> y(size_t(kAccuracyVectors) * out), back(in);
  gemm(m, x.data(), kAccuracyVectors, y.data(), nullptr, nullptr);
  double werr = 0, wnorm = 0, yerr = 0, ynorm = 0;
  for (int o = 0; o < out; ++o) {
    const float* row = w.data() + size_t(o) * in;
    unpack_row(m, o, back.data());
    for (int k = 0; k < in; ++k) {
      werr += (double(row[k]) - back[k]) * (double(row[k]) - back[k]);
      wnorm += double(row[k]) * row[k];
    }
    for (int v = 0; v < kAccuracyVectors; ++v) {
      double exact = 0;
      for (int k = 0; k < in; ++k) exact += double(row[k]) * x[size_t(v) * in + k];
      const double got = y[size_t(v) * out + o];
      yerr += (exact - got) * (exact - got);
      ynorm += exact * exact;
    }
  }
  return {std::sqrt(werr / wnorm), std::sqrt(yerr / ynorm)};
}

QuantAccuracy quant_accuracy_bound(BlockFormat format, WeightDistribution d) {
  // Issue 31's table: Q8_0 x Q8_0 activations, Q4_K x Q8_K.
  static const QuantAccuracy q8[] = {{.0053, .0128}, {.0073, .0135}, {.0112, .0262}};
  static const QuantAccuracy q4[] = {{.0714, .0778}, {.0867, .0911}, {.0986, .1679}};
  const QuantAccuracy& ggml = (format == BlockFormat::Q8_0 ? q8 : q4)[int(d)];
  return {ggml.weight_rmse * 1.02, ggml.gemv_rmse * 1.02};
}

}  // namespace kyutai
