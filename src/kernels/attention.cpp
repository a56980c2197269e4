#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace kyutai {

void attend(const float* q, const float* keys, const float* values, const int64_t* positions, int slots, int d,
            int64_t qpos, int64_t window, float scale, float* scores, float* out) {
  std::fill(out, out + d, 0.0f);
  float m = -INFINITY;
  int visible = 0;
  for (int s = 0; s < slots; ++s) {
    const int64_t delta = qpos - positions[s];
    const bool ok = positions[s] >= 0 && delta >= 0 && (window <= 0 || delta < window);
    scores[s] = ok ? dot(q, keys + size_t(s) * d, d) * scale : -INFINITY;
    if (ok) {
      ++visible;
      m = std::max(m, scores[s]);
    }
  }
  if (visible == 0) return;
  // Hidden slots hold -inf: their exp is exactly 0, so they drop out of the sum.
  const float inv = 1.0f / exp_shifted(scores, m, slots, scores);
  for (int s = 0; s < slots; ++s)
    if (scores[s] != 0.0f) axpy(scores[s] * inv, values + size_t(s) * d, d, out);
}

}  // namespace kyutai
