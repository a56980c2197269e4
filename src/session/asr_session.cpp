#include "session/asr_session.h"

#include "core/error.h"

namespace kyutai {

AsrSession::AsrSession(const LmModel& model, AsrOptions options)
    : model_(model), options_(options), rng_(options.seed), state_(model.new_state()) {
  pending_frame_.assign(model_.config().n_q, model_.config().audio_initial_token());
}

void AsrSession::reset() {
  state_.reset();
  rng_.reseed(options_.seed);
  step_ = 0;
  text_token_ = 0;
  std::fill(pending_frame_.begin(), pending_frame_.end(), model_.config().audio_initial_token());
}

bool AsrSession::is_padding(int32_t token) const {
  const LmConfig& c = model_.config();
  return token == c.existing_text_padding_id || token == c.existing_text_end_padding_id;
}

AsrStep AsrSession::push_frame(const int32_t* codes, int count) {
  const LmConfig& c = model_.config();
  if (count != c.n_q)
    fail(ErrorCode::InvalidArgument, "expected ", c.n_q, " codebooks in the audio frame, got ", count);
  for (int i = 0; i < count; ++i)
    if (codes[i] != -1 && (codes[i] < 0 || codes[i] >= c.card))
      fail(ErrorCode::InvalidArgument, "audio codebook ", i, ": token ", codes[i], " is out of range (expected -1 or 0..",
           c.card - 1, ")");
  AsrStep out;
  out.model_input.resize(c.num_codebooks());
  out.model_input[0] = step_ == 0 ? c.text_initial_token() : text_token_;
  for (int i = 0; i < c.n_q; ++i) out.model_input[1 + i] = step_ == 0 ? c.audio_initial_token() : pending_frame_[i];
  out.transformer_out.resize(c.dim);
  out.text_logits.resize(c.text_card_out);
  model_.step(out.model_input.data(), state_, out.transformer_out.data(), out.text_logits.data());
  pending_frame_.assign(codes, codes + count);
  out.vad.resize(size_t(c.extra_heads_num_heads) * c.extra_heads_dim);
  model_.extra_heads(out.transformer_out.data(), out.vad.data());
  SamplingParams p{options_.temperature > 0, options_.temperature, 0};
  text_token_ = sample_token(out.text_logits.data(), c.text_card_out, p, rng_);
  ++step_;
  out.step = step_;
  out.text_token = text_token_;
  out.is_padding = is_padding(text_token_);
  return out;
}

}  // namespace kyutai
