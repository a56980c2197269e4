#include "lm/lm_stepper.h"

#include "core/error.h"
#include "lm/forward.h"

namespace kyutai {

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
