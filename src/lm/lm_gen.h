// Frame-by-frame generation, equivalent to Kyutai's LMGen (moshi.models.lm): a small cache
// of the last max_delay + 2 steps per stream re-aligns the delayed streams; the first
// steps of each stream read its initial token; a token that is not generated yet never
// reaches the network; a frame is returned once all its delayed codebooks are known.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lm/lm_model.h"
#include "lm/sampling.h"

namespace kyutai {

struct GenerationParams {
  SamplingParams text;   // Kyutai defaults: temp_text 0.7, top_k_text 25
  SamplingParams audio;  // temp 0.8, top_k 250
  uint64_t seed = 0;
  // Kyutai's lm_gen_config defaults when the config carries one, else greedy.
  static GenerationParams from_config(const LmConfig& config, bool use_sampling);
};

struct GenStep {
  // The network's view of this step (for tests and inspection).
  std::vector<int32_t> model_input;     // [K]
  std::vector<float> transformer_out;   // [dim]
  std::vector<float> text_logits;       // [text_card_out]
  int32_t text_token = -1;              // sampled (or forced) at this step
  std::vector<int32_t> audio_tokens;    // [dep_q] sampled at this step
  std::vector<float> depformer_logits;  // [dep_q, card]
  // The undelayed frame [1 + dep_q] (text, then generated audio codebooks) that became
  // complete at this step; empty during the first max_delay steps.
  std::vector<int32_t> frame;
};

class LmGen {
 public:
  LmGen(const LmModel& model, GenerationParams params);

  // `user` holds at least n_q - dep_q codes of the user's audio stream (extra ones are
  // ignored). `forced_text` replaces the sampled text token (teacher-forced text: TTS).
  GenStep step(const int32_t* user, int count, std::optional<int32_t> forced_text = std::nullopt);
  void reset();

  int64_t steps() const { return offset_; }
  const LmModel& model() const { return model_; }
  const LmState& state() const { return state_; }
  size_t state_bytes() const { return state_.bytes() + cache_.size() * 4; }

 private:
  void check_user_tokens(const int32_t* user, int count) const;

  const LmModel& model_;
  GenerationParams params_;
  Random rng_;
  LmState state_;
  int K_, CT_, max_delay_;
  std::vector<int32_t> cache_;  // [K, CT], -2 = not generated yet
  std::vector<int32_t> initial_;
  int64_t offset_ = 0;
};

}  // namespace kyutai
