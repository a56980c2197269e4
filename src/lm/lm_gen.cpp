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
    : model_(model), stages_(model, params.seed, params.text, params.audio) {
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
  stages_.reset();
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
  begin(user, count, forced_text);
  return run_local();
}

const FrameRequest& LmGen::begin(const int32_t* user, int count, std::optional<int32_t> forced_text) {
  const LmConfig& c = model_.config();
  if (stages_.open()) fail(ErrorCode::InvalidState, "a frame is already open: finish it (or run it locally) first");
  check_user_tokens(user, count);  // before touching any state: a bad frame changes nothing
  if (forced_text && (*forced_text < -1 || *forced_text > c.text_card))
    fail(ErrorCode::InvalidArgument, "text token ", *forced_text, " is out of range (expected -1 or 0..", c.text_card,
         ")");
  const int Q = c.dep_q;
  auto cache = [&](int k, int64_t pos) -> int32_t& { return cache_[size_t(k) * CT_ + size_t(pos % CT_)]; };
  // The user stream is written at its delayed position; it is read when the step gets there.
  for (int k = Q + 1; k < K_; ++k) cache(k, offset_ + c.delays[k]) = user[k - Q - 1];
  FrameRequest req;
  req.tokens.resize(K_);
  for (int k = 0; k < K_; ++k) {
    req.tokens[k] = offset_ <= c.delays[k] ? initial_[k] : cache(k, offset_);
    if (req.tokens[k] == kUngenerated)
      fail(ErrorCode::Internal, "stream ", k, " has no token at step ", offset_,
           " (the ungenerated marker would reach the network)");
  }
  req.forced_text = forced_text;
  req.depformer = Q > 0;
  model_input_ = req.tokens;
  return stages_.begin(std::move(req));
}

GenStep LmGen::finish(FrameReply reply) { return complete(stages_.finish(std::move(reply)), false); }

GenStep LmGen::run_local() { return complete(stages_.run_local(), true); }

GenStep LmGen::complete(const FrameReply& reply, bool local) {
  const LmConfig& c = model_.config();
  const int Q = c.dep_q;
  auto cache = [&](int k, int64_t pos) -> int32_t& { return cache_[size_t(k) * CT_ + size_t(pos % CT_)]; };
  GenStep out;
  out.model_input = model_input_;
  out.text_token = reply.text_token;
  out.audio_tokens = reply.audio_tokens;
  if (local) {
    out.transformer_out = stages_.local().transformer_out;
    out.text_logits = stages_.local().text_logits;
    out.depformer_logits = stages_.local().depformer_logits;
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
