#include "lm/lm_stepper.h"

#include <algorithm>

#include "core/error.h"
#include "lm/forward.h"

namespace kyutai {

LmStepper::LmStepper(const LmModel& model, const std::vector<float>& sum, int cross_length,
                     const std::vector<std::vector<float>>& keys, const std::vector<std::vector<float>>& values)
    : model_(model) {
  const LmConfig& c = model.config();
  if (!model.conditioned()) fail(ErrorCode::InvalidArgument, "this model has no conditioners: it takes no conditions");
  const size_t layers = size_t(c.num_layers), rows = size_t(std::max(cross_length, 0)) * c.dim;
  const bool cross = c.cross_attention;
  if (cross && (cross_length < 1 || keys.size() != layers || values.size() != layers))
    fail(ErrorCode::InvalidArgument, "conditions: expected cross-attention keys and values of ", layers,
         " layers over at least 1 position, got ", keys.size(), " and ", values.size(), " over ", cross_length);
  for (size_t l = 0; cross && l < layers; ++l)
    if (keys[l].size() != rows || values[l].size() != rows)
      fail(ErrorCode::InvalidArgument, "conditions: layer ", l, " keys/values must hold ", rows, " values [heads, ",
           cross_length, ", head_dim], got ", keys[l].size(), " and ", values[l].size());
  // The state of this source's shape, then the given keys and values in place of its own.
  LmConditions shape{sum, std::vector<float>(cross ? rows : 0, 0.0f), cross ? cross_length : 0};
  state_ = model.new_state(&shape);
  if (cross) {
    state_.transformer.cross.keys = keys;
    state_.transformer.cross.values = values;
  }
}

void LmStepper::check_dim(int count) const {
  if (count != model_.config().dim)
    fail(ErrorCode::InvalidArgument, "expected ", model_.config().dim, " values, got ", count);
}

void LmStepper::step(const int32_t* tokens, int count) {
  const LmConfig& c = model_.config();
  if (count != c.num_codebooks())
    fail(ErrorCode::InvalidArgument, "expected ", c.num_codebooks(), " tokens, got ", count);
  out_.resize(c.dim);
  logits_.resize(c.text_card_out);
  model_.step(tokens, state_, out_.data(), logits_.data());
}

std::vector<float> LmStepper::extra_heads(const float* transformer_out, int count) const {
  check_dim(count);
  const LmConfig& c = model_.config();
  std::vector<float> probs(size_t(c.extra_heads_num_heads) * c.extra_heads_dim);
  model_.extra_heads(transformer_out, probs.data());
  return probs;
}

std::vector<float> LmStepper::depformer_step(int k, int32_t token, const float* transformer_out, int count) {
  check_dim(count);
  if (k == 0) state_.depformer.reset();
  std::vector<float> logits(model_.config().card);
  model_.depformer_step(k, token, transformer_out, state_, logits.data());
  return logits;
}

void LmStepper::append_kv(const float* rows) { append_kv_rows(model_, state_, rows); }

}  // namespace kyutai
