// Per-stream delays between the time-aligned ("pre-delay") codes a user thinks in and the
// layout the LM is trained on (moshi.models.lm: _delay_sequence / _undelay_sequence).
#pragma once

#include <cstdint>
#include <vector>

#include "lm/lm_config.h"
#include "lm/tokens.h"

namespace kyutai {

// Dense [K, T] view of a MultistreamInput for one batch item; absent streams are -1.
std::vector<int32_t> dense_codes(const MultistreamInput& input, int K, int batch_index, int T);
MultistreamInput from_dense(const std::vector<std::vector<int32_t>>& per_batch, int K, int T);

// Temporal-transformer input: model_input[k, 0] = initial_k, and for t >= 1
// model_input[k, t] = codes[k, t - 1 - d_k] when that index is >= 0, else initial_k.
MultistreamInput delay_codes(const MultistreamInput& codes, const LmConfig& config);
// Depformer teacher tokens [B, dep_q, T]: codes[k, t - d_k] or initial_k (k = 0 is text).
std::vector<int32_t> depformer_tokens(const MultistreamInput& codes, const LmConfig& config, int* B, int* T);

// Undelays step-domain audio logits [B, dep_q, T, card]: out[k, t] = in[k, t + d_{1+k}],
// NaN (mask 0) for the last d_{1+k} steps.
void undelay_logits(const std::vector<float>& step_logits, const LmConfig& config, int B, int T,
                    std::vector<float>* logits, std::vector<uint8_t>* mask);

}  // namespace kyutai
