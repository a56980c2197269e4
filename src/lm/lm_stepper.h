// One stream of raw LM steps with a state of its own: the low-level step API (teacher forcing
// from JavaScript, kyutai-wasm/engine) and the reference the WebGPU kernels are tested against.
// The caller gives every token (no delays, no sampling: that is what the sessions add).
#pragma once

#include <cstdint>
#include <vector>

#include "lm/lm_model.h"

namespace kyutai {

class LmStepper {
 public:
  explicit LmStepper(const LmModel& model) : model_(model), state_(model.new_state()) {}
  // A conditioned model's stream (Kyutai's TTS) under a condition a session prepared: its sum
  // [dim] (empty: none) and each layer's cross-attention keys and values [heads, length,
  // head_dim], as the session's state holds them (and the GPU forward uploads them).
  LmStepper(const LmModel& model, const std::vector<float>& sum, int cross_length,
            const std::vector<std::vector<float>>& keys, const std::vector<std::vector<float>>& values);

  // tokens[K] (text first) -> transformer_out() [dim] and text_logits() [text_card_out].
  void step(const int32_t* tokens, int count);
  const std::vector<float>& transformer_out() const { return out_; }
  const std::vector<float>& text_logits() const { return logits_; }
  // Per-head softmax [heads, extra_heads_dim] of a transformer output of `count` values.
  std::vector<float> extra_heads(const float* transformer_out, int count) const;
  // Depformer position k (k = 0 starts a new time step) -> logits [card].
  std::vector<float> depformer_step(int k, int32_t token, const float* transformer_out, int count);
  // One position's K/V rows of every layer (kv_row_floats(model) floats), written as a step would.
  void append_kv(const float* rows);
  int64_t offset() const { return state_.transformer.offset; }
  void reset() { state_.reset(); }

 private:
  void check_dim(int count) const;

  const LmModel& model_;
  LmState state_;
  std::vector<float> out_, logits_;
};

}  // namespace kyutai
