// One codebook of Mimi's residual quantizer (moshi.quantization.core_vq.EuclideanCodebook at
// inference): the nearest centroid of a vector, and a centroid added back.
//
// The search reads half the codebook: each f32 centroid value is stored as its high and low
// 16 bits. A first pass ranks every centroid from the high halves alone (bfloat16 values,
// within a bound that is known per centroid), and only the centroids that bound cannot rule
// out get their exact distance, from both halves. The answer is the exact search's, bit for
// bit: same distances, same order of summation, the first of equal distances winning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kyutai {

class ThreadPool;

class Codebook {
 public:
  Codebook() = default;
  // centroids [bins][dimension], f32.
  Codebook(const std::vector<float>& centroids, int bins, int dimension);

  int bins() const { return bins_; }
  int dimension() const { return dimension_; }
  // The centroid nearest to v [dimension] by squared Euclidean distance summed over dimensions
  // in order (Kyutai's cdist + argmin, up to float rounding); the first of equal distances
  // wins, as with torch.argmin. The first pass splits its bins across `pool` (may be null).
  int nearest(const float* v, ThreadPool* pool) const;
  // out[d] += sign * centroid[code][d], d < dimension.
  void add(int code, float sign, float* out) const;
  float value(int code, int d) const;  // centroid[code][d]

 private:
  // Lower and upper bounds of each bin's distance minus |v|^2, for bins of panels [begin, end).
  void bound_distances(const float* v, float v_norm, int panel_begin, int panel_end, float* lower, float* upper) const;
  float distance(const float* v, int code) const;  // exact, summed over d in order
  int panels() const;                              // of kPanel bins, the last one padded
  size_t slot(int code, int d) const;              // where centroid[code][d]'s halves are

  int bins_ = 0, dimension_ = 0;
  // Panels of kPanel bins, [bins / kPanel][dimension][kPanel]: the first pass computes a
  // panel's bins side by side. high_ holds each value's top 16 bits, low_ the rest.
  std::vector<uint16_t> high_, low_;
  std::vector<float> squared_norm_;  // |c|^2 per bin
  std::vector<float> norm_;          // |c|
  std::vector<float> truncation_;    // |c - high(c)|, rounded up
};

}  // namespace kyutai
