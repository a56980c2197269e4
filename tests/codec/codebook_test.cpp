// The codebook's two-pass nearest-centroid search against an exhaustive one: the same bin for
// every vector, including centroids the first pass cannot tell apart (equal high halves) and
// exact ties, on one thread and on a pool.
#include "codec/codebook.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace kyutai {
namespace {

struct Lcg {
  uint32_t state;
  float uniform() {  // [-1, 1)
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1 << 23) - 1.0f;
  }
};

// The search the codebook must reproduce: distances summed over d in order, first minimum.
int exhaustive_nearest(const std::vector<float>& c, int bins, int dim, const float* v) {
  int best = 0;
  float best_distance = 0;
  for (int b = 0; b < bins; ++b) {
    float sum = 0;
    for (int d = 0; d < dim; ++d) {
      const float diff = v[d] - c[size_t(b) * dim + d];
      sum += diff * diff;
    }
    if (b == 0 || sum < best_distance) {
      best = b;
      best_distance = sum;
    }
  }
  return best;
}

float with_low_bits(float f, uint32_t low) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits = (bits & 0xffff0000u) | (low & 0xffffu);
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Random centroids, then pairs that differ only below their high 16 bits and exact copies.
std::vector<float> hard_centroids(int bins, int dim, uint32_t seed) {
  Lcg rng{seed};
  std::vector<float> c(size_t(bins) * dim);
  for (float& x : c) x = 0.5f * rng.uniform();
  for (int b = 1; b + 1 < bins; b += 7) {
    for (int d = 0; d < dim; ++d) {
      const float x = c[size_t(b) * dim + d];
      c[size_t(b + 1) * dim + d] = with_low_bits(x, uint32_t(rng.uniform() * 30000 + 30000));
    }
  }
  for (int b = 5; b < bins; b += 23)
    for (int d = 0; d < dim; ++d) c[size_t(b) * dim + d] = c[size_t(b - 3) * dim + d];
  return c;
}

// Vectors near centroids (as residuals are), halfway between two, and far from all.
std::vector<std::vector<float>> probes(const std::vector<float>& c, int bins, int dim, uint32_t seed) {
  Lcg rng{seed};
  std::vector<std::vector<float>> out;
  for (int i = 0; i < 60; ++i) {
    const int a = int((rng.uniform() + 1) * 0.5f * bins) % bins, b = (a + 1) % bins;
    const float noise = i % 3 == 0 ? 1e-6f : i % 3 == 1 ? 1e-3f : 0.2f;
    std::vector<float> v(dim);
    for (int d = 0; d < dim; ++d) {
      const float mix = i % 4 == 0 ? 0.5f * (c[size_t(a) * dim + d] + c[size_t(b) * dim + d]) : c[size_t(a) * dim + d];
      v[d] = mix + noise * rng.uniform();
    }
    out.push_back(v);
  }
  std::vector<float> far(dim);
  for (float& x : far) x = 40 * rng.uniform();
  out.push_back(far);
  out.push_back(std::vector<float>(dim, 0.0f));
  return out;
}

TEST(Codebook, NearestIsTheExhaustiveSearchsBin) {
  ThreadPool pool(3);
  for (auto [bins, dim] : {std::pair{2048, 256}, std::pair{301, 17}, std::pair{9, 1}}) {
    const std::vector<float> c = hard_centroids(bins, dim, 11u + bins);
    const Codebook book(c, bins, dim);
    int checked = 0;
    for (const auto& v : probes(c, bins, dim, 7u + dim)) {
      const int expected = exhaustive_nearest(c, bins, dim, v.data());
      ASSERT_EQ(book.nearest(v.data(), nullptr), expected) << bins << " bins, dimension " << dim;
      ASSERT_EQ(book.nearest(v.data(), &pool), expected) << bins << " bins, dimension " << dim << ", 3 threads";
      ++checked;
    }
    EXPECT_EQ(checked, 62);
  }
}

TEST(Codebook, CentroidsTheFirstPassCannotSeparateAreRankedExactly) {
  // Two centroids with the same high halves: the nearer one by the low bits must win, either way round.
  const int dim = 64;
  std::vector<float> c(2 * dim);
  Lcg rng{3};
  for (int d = 0; d < dim; ++d) {
    c[d] = with_low_bits(0.25f + 0.1f * rng.uniform(), 0x0100);
    c[dim + d] = with_low_bits(c[d], 0xf000);
  }
  const Codebook book(c, 2, dim);
  EXPECT_EQ(book.nearest(c.data(), nullptr), 0);
  EXPECT_EQ(book.nearest(c.data() + dim, nullptr), 1);
  // An exact tie goes to the first bin.
  const Codebook twins(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, 2, 2);
  const float between[2] = {0.5f, 0.5f};
  EXPECT_EQ(twins.nearest(between, nullptr), 0);
}

TEST(Codebook, NonFiniteVectorsGetTheExhaustiveSearchsBin) {
  const int bins = 40, dim = 8;
  const std::vector<float> c = hard_centroids(bins, dim, 5);
  const Codebook book(c, bins, dim);
  std::vector<float> v(dim, 0.1f);
  v[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(book.nearest(v.data(), nullptr), exhaustive_nearest(c, bins, dim, v.data()));
  v[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(book.nearest(v.data(), nullptr), exhaustive_nearest(c, bins, dim, v.data()));
  v[3] = 3e38f;  // finite, but its square overflows
  EXPECT_EQ(book.nearest(v.data(), nullptr), exhaustive_nearest(c, bins, dim, v.data()));
}

TEST(Codebook, CentroidsComeBackExactly) {
  const int bins = 13, dim = 5;
  const std::vector<float> c = hard_centroids(bins, dim, 9);
  const Codebook book(c, bins, dim);
  for (int b = 0; b < bins; ++b) {
    std::vector<float> out(dim, 1.0f);
    book.add(b, -1.0f, out.data());
    for (int d = 0; d < dim; ++d) {
      ASSERT_EQ(book.value(b, d), c[size_t(b) * dim + d]);
      ASSERT_EQ(out[d], 1.0f - c[size_t(b) * dim + d]);
    }
  }
}

TEST(Codebook, WrongSizesAreRefused) {
  EXPECT_THROW(Codebook(std::vector<float>(10), 3, 4), Error);
  EXPECT_THROW(Codebook(std::vector<float>(), 0, 4), Error);
}

}  // namespace
}  // namespace kyutai
