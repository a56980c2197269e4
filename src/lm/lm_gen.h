// Frame-by-frame generation, equivalent to Kyutai's LMGen (moshi.models.lm): a small cache
// of the last max_delay + 2 steps per stream re-aligns the delayed streams; the first
// steps of each stream read its initial token; a token that is not generated yet never
// reaches the network; a frame is returned once all its delayed codebooks are known.
// Each step is staged around the forward (lm/forward.h): begin() -> the forward (local or
// remote) -> finish(); step() is begin() and the local forward.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lm/forward.h"
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
  // The network's view of this step (for tests and inspection; the logits and outputs only
  // when the local forward ran it).
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
  // The same step in stages: every input is checked in begin() before any state changes.
  const FrameRequest& begin(const int32_t* user, int count, std::optional<int32_t> forced_text = std::nullopt);
  int32_t sample_text(const float* logits, int count) { return stages_.sample_text(logits, count); }
  int32_t sample_audio(int k, const float* logits, int count) { return stages_.sample_audio(k, logits, count); }
  GenStep finish(FrameReply reply);
  GenStep run_local();  // the open frame on the local forward (also the redo of a failed remote one)
  void reset();

  int64_t steps() const { return offset_; }
  bool frame_open() const { return stages_.open(); }
  const LmModel& model() const { return model_; }
  const FrameStages& stages() const { return stages_; }
  size_t state_bytes() const { return stages_.state_bytes() + cache_.size() * 4; }

 private:
  void check_user_tokens(const int32_t* user, int count) const;
  GenStep complete(const FrameReply& reply, bool local);

  const LmModel& model_;
  FrameStages stages_;
  int K_, CT_, max_delay_;
  std::vector<int32_t> cache_;  // [K, CT], -2 = not generated yet
  std::vector<int32_t> initial_;
  std::vector<int32_t> model_input_;  // of the open frame
  int64_t offset_ = 0;
};

}  // namespace kyutai
