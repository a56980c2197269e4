#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ops.h"

namespace kyutai {

namespace {

// The slots [first, last) that hold every visible slot; empty when none is visible.
struct SlotSpan {
  int first = 0, last = 0;
  bool empty() const { return first >= last; }
};

// Softmax weights of the visible slots, written over [span.first, span.last): hidden slots
// inside the span hold -inf, whose exp is exactly 0, so they drop out of the sum. Slots outside
// it are left alone: a ring that has not wrapped yet, or whose window is shorter than its
// capacity, would otherwise pay an exp, a scale and a test per empty slot on every step
// (16 heads x 750 slots per layer for STT-1B, at any context).
template <class Dot>
SlotSpan softmax_scores(const int64_t* positions, int slots, int64_t qpos, int64_t window, float scale,
                        const Dot& dot_slot, float* scores) {
  float m = -INFINITY;
  SlotSpan span{slots, 0};
  for (int s = 0; s < slots; ++s) {
    const int64_t delta = qpos - positions[s];
    const bool ok = positions[s] >= 0 && delta >= 0 && (window <= 0 || delta < window);
    scores[s] = ok ? dot_slot(s) * scale : -INFINITY;
    if (ok) {
      span.first = std::min(span.first, s);
      span.last = s + 1;
      m = std::max(m, scores[s]);
    }
  }
  if (span.empty()) return span;
  float* visible = scores + span.first;
  const int n = span.last - span.first;
  const float inv = 1.0f / exp_shifted(visible, m, n, visible);
  for (int i = 0; i < n; ++i) visible[i] *= inv;
  return span;
}

}  // namespace

void attend(const float* q, const float* keys, const float* values, const int64_t* positions, int slots, int d,
            int64_t qpos, int64_t window, float scale, float* scores, float* out) {
  std::fill(out, out + d, 0.0f);
  const SlotSpan span = softmax_scores(
      positions, slots, qpos, window, scale, [&](int s) { return dot(q, keys + size_t(s) * d, d); }, scores);
  for (int s = span.first; s < span.last; ++s)
    if (scores[s] != 0.0f) axpy(scores[s], values + size_t(s) * d, d, out);
}

// bf16 rows are read as pairs (see dot_bf16_split): the query and the output are split into
// their even and odd elements once per call, so each of the `slots` rows widens with one
// shift and one mask per 8 values.
void attend(const float* q, const uint16_t* keys, const uint16_t* values, const int64_t* positions, int slots, int d,
            int64_t qpos, int64_t window, float scale, float* scores, float* out) {
  std::fill(out, out + d, 0.0f);
  thread_local std::vector<float> split;
  const int half = (d + 1) / 2;
  split.assign(size_t(half) * 4, 0.0f);  // q even | q odd | out even | out odd, half each
  float *q_even = split.data(), *q_odd = q_even + half, *o_even = q_odd + half, *o_odd = o_even + half;
  for (int i = 0; i < d; ++i) (i & 1 ? q_odd : q_even)[i / 2] = q[i];
  const SlotSpan span = softmax_scores(
      positions, slots, qpos, window, scale,
      [&](int s) { return dot_bf16_split(q_even, q_odd, keys + size_t(s) * d, d); }, scores);
  if (span.empty()) return;
  for (int s = span.first; s < span.last; ++s)
    if (scores[s] != 0.0f) axpy_bf16_split(scores[s], values + size_t(s) * d, d, o_even, o_odd);
  for (int i = 0; i < d; ++i) out[i] = (i & 1 ? o_odd : o_even)[i / 2];
}

}  // namespace kyutai
