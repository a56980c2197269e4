#include "lm/lm_gen.h"

#include "core/error.h"

namespace kyutai {

namespace {
constexpr int32_t kUngenerated = -2;
}

GenerationParams GenerationParams::from_config(const LmConfig& c, bool use_sampling) {
  GenerationParams p;
  LmGenConfig g = c.lm_gen_config.value_or(LmGenConfig{});
  p.text = {use_sampling, float(g.temp_text), g.top_k_text};
  p.audio = {use_sampling, float(g.temp), g.top_k};
  return p;
}

LmGen::LmGen(const LmModel& model, GenerationParams params)
    : model_(model), params_(params), rng_(params.seed), state_(model.new_state()) {
  const LmConfig& c = model_.config();
  K_ = c.num_codebooks();
  max_delay_ = c.max_delay();
  CT_ = max_delay_ + 2;
  cache_.assign(size_t(K_) * CT_, kUngenerated);
  initial_.resize(K_);
  for (int k = 0; k < K_; ++k) initial_[k] = k == 0 ? c.text_initial_token() : c.audio_initial_token();
}

void LmGen::reset() {
  std::fill(cache_.begin(), cache_.end(), kUngenerated);
  state_.reset();
  rng_.reseed(params_.seed);
  offset_ = 0;
}

void LmGen::check_user_tokens(const int32_t* user, int count) const {
  const LmConfig& c = model_.config();
  const int needed = c.n_q - c.dep_q;
  if (count < needed)
    fail(ErrorCode::InvalidArgument, "expected ", needed, " codebooks in the user frame, got ", count);
  for (int i = 0; i < needed; ++i)
    if (user[i] != -1 && (user[i] < 0 || user[i] >= c.card))
      fail(ErrorCode::InvalidArgument, "user codebook ", i, ": token ", user[i], " is out of range (expected -1 or 0..",
           c.card - 1, ")");
}

GenStep LmGen::step(const int32_t* user, int count, std::optional<int32_t> forced_text) {
  const LmConfig& c = model_.config();
  check_user_tokens(user, count);  // before touching any state: a bad frame changes nothing
  if (forced_text && (*forced_text < -1 || *forced_text > c.text_card))
    fail(ErrorCode::InvalidArgument, "text token ", *forced_text, " is out of range (expected -1 or 0..", c.text_card, ")");
  const int Q = c.dep_q;
  auto cache = [&](int k, int64_t pos) -> int32_t& { return cache_[size_t(k) * CT_ + size_t(pos % CT_)]; };

  // The user stream is written at its delayed position; it is read when the step gets there.
  for (int k = Q + 1; k < K_; ++k) cache(k, offset_ + c.delays[k]) = user[k - Q - 1];

  GenStep out;
  out.model_input.resize(K_);
  for (int k = 0; k < K_; ++k) {
    bool is_init = offset_ <= c.delays[k];
    out.model_input[k] = is_init ? initial_[k] : cache(k, offset_);
    if (out.model_input[k] == kUngenerated)
      fail(ErrorCode::Internal, "stream ", k, " has no token at step ", offset_, " (the ungenerated marker would reach the network)");
  }
  out.transformer_out.resize(c.dim);
  out.text_logits.resize(c.text_card_out);
  model_.step(out.model_input.data(), state_, out.transformer_out.data(), out.text_logits.data());
  out.text_token = forced_text ? *forced_text
                               : sample_token(out.text_logits.data(), c.text_card_out, params_.text, rng_);

  if (Q > 0) {
    state_.depformer.reset();
    out.audio_tokens.resize(Q);
    out.depformer_logits.resize(size_t(Q) * c.card);
    int32_t prev = out.text_token;
    for (int k = 0; k < Q; ++k) {
      float* logits = out.depformer_logits.data() + size_t(k) * c.card;
      model_.depformer_step(k, prev, out.transformer_out.data(), state_, logits);
      prev = out.audio_tokens[k] = sample_token(logits, c.card, params_.audio, rng_);
    }
  }

  ++offset_;
  cache(0, offset_) = out.text_token;
  for (int k = 0; k < Q; ++k) cache(1 + k, offset_) = out.audio_tokens[k];
  if (offset_ > max_delay_) {
    out.frame.resize(1 + Q);
    for (int k = 0; k <= Q; ++k) out.frame[k] = cache(k, offset_ - max_delay_ + c.delays[k]);
  }
  return out;
}

}  // namespace kyutai
