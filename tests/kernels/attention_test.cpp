// attend() over a ring of cached rows: the softmax runs over exactly the visible slots
// (filled, not in the future, inside the window), wherever they lie in the ring.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "io/dtype.h"
#include "kernels/attention.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::uniform_floats;

struct Ring {
  int slots, d;
  std::vector<float> keys, values;
  std::vector<int64_t> positions;
  Ring(int slots, int d)
      : slots(slots),
        d(d),
        keys(uniform_floats(size_t(slots) * d, 11)),
        values(uniform_floats(size_t(slots) * d, 12)),
        positions(slots, -1) {}
};

// The definition, in double: softmax(scale q.k) over the visible slots, zeros when none is.
std::vector<float> reference(const Ring& r, const std::vector<float>& q, int64_t qpos, int64_t window, float scale) {
  std::vector<double> logits(r.slots, -INFINITY), out(r.d, 0.0);
  double m = -INFINITY;
  for (int s = 0; s < r.slots; ++s) {
    const int64_t p = r.positions[s];
    if (p < 0 || p > qpos || (window > 0 && qpos - p >= window)) continue;
    double dot = 0;
    for (int i = 0; i < r.d; ++i) dot += double(q[i]) * r.keys[size_t(s) * r.d + i];
    logits[s] = scale * dot;
    m = std::max(m, logits[s]);
  }
  double sum = 0;
  for (double& l : logits) sum += (l = std::exp(l - m));
  std::vector<float> result(r.d, 0.0f);
  if (m == -INFINITY) return result;
  for (int s = 0; s < r.slots; ++s)
    for (int i = 0; i < r.d; ++i) out[i] += logits[s] / sum * r.values[size_t(s) * r.d + i];
  for (int i = 0; i < r.d; ++i) result[i] = float(out[i]);
  return result;
}

void expect_matches_reference(const Ring& r, int64_t qpos, int64_t window) {
  const auto q = uniform_floats(r.d, 13);
  const float scale = 0.3f;
  std::vector<float> scores(r.slots, 123.0f), out(r.d, 99.0f);
  attend(q.data(), r.keys.data(), r.values.data(), r.positions.data(), r.slots, r.d, qpos, window, scale, scores.data(),
         out.data());
  const auto expected = reference(r, q, qpos, window, scale);
  for (int i = 0; i < r.d; ++i) EXPECT_NEAR(out[i], expected[i], 2e-6f) << "element " << i;
}

TEST(Attention, APartlyFilledRingAttendsOnlyToItsFilledSlots) {
  Ring r(50, 20);
  for (int s = 0; s < 7; ++s) r.positions[s] = s;  // 7 steps into a 50-slot ring
  expect_matches_reference(r, 6, 50);
}

TEST(Attention, AWrappedRingWithAShortWindowSkipsTheSlotsInBetween) {
  Ring r(16, 12);
  // 20 steps written into 16 slots: slot s holds step s + 16 for s < 4, step s otherwise. With
  // a window of 6, the query at step 19 sees steps 14..19: slots 14, 15 and 0..3, on both ends.
  for (int s = 0; s < 16; ++s) r.positions[s] = s < 4 ? s + 16 : s;
  expect_matches_reference(r, 19, 6);
}

TEST(Attention, SlotsAheadOfTheQueryAreHidden) {
  Ring r(10, 8);
  for (int s = 0; s < 10; ++s) r.positions[s] = s;
  expect_matches_reference(r, 4, 0);  // no window: slots 0..4
}

TEST(Attention, NoVisibleSlotGivesZeros) {
  Ring r(10, 8);
  r.positions[3] = 9;                 // in the future of the query
  expect_matches_reference(r, 2, 0);  // the reference is all zeros; `out` starts at 99
}

// bf16 rows are split into even and odd elements; with an odd row length the four halves
// (query and output, even and odd) are one element longer than d / 2 each.
TEST(Attention, Bf16RowsOfOddLengthMatchTheReference) {
  Ring r(9, 7);
  for (int s = 0; s < 9; ++s) r.positions[s] = s;
  std::vector<uint16_t> keys(r.keys.size()), values(r.values.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = f32_to_bf16(r.keys[i]);
    values[i] = f32_to_bf16(r.values[i]);
    r.keys[i] = bf16_to_f32(keys[i]);  // the reference sees the values the rows hold
    r.values[i] = bf16_to_f32(values[i]);
  }
  const auto q = uniform_floats(r.d, 13);
  std::vector<float> scores(r.slots), out(r.d, 99.0f);
  attend(q.data(), keys.data(), values.data(), r.positions.data(), r.slots, r.d, 8, 0, 0.3f, scores.data(), out.data());
  const auto expected = reference(r, q, 8, 0, 0.3f);
  for (int i = 0; i < r.d; ++i) EXPECT_NEAR(out[i], expected[i], 2e-6f) << "element " << i;
}

}  // namespace
}  // namespace kyutai
