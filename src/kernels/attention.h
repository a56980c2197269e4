// Scaled dot-product attention of one query head over a ring of cached keys/values, each
// slot tagged with its absolute position: slot s is visible when 0 <= qpos - pos[s] < window
// (window <= 0: no limit) and pos[s] >= 0 (filled).
#pragma once

#include <cstdint>

namespace kyutai {

// out[d] = sum_s softmax(scale * q . k_s) v_s over visible slots; zeros when none is.
// `scores` is scratch of `slots` floats. Keys and values are float32 rows, or bfloat16 rows
// (the raw 16 bits) in the second form; the sums are float32 either way.
void attend(const float* q, const float* keys, const float* values, const int64_t* positions, int slots, int d,
            int64_t qpos, int64_t window, float scale, float* scores, float* out);
void attend(const float* q, const uint16_t* keys, const uint16_t* values, const int64_t* positions, int slots, int d,
            int64_t qpos, int64_t window, float scale, float* scores, float* out);

}  // namespace kyutai
