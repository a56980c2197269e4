#include "session/asr_session.h"

#include "core/error.h"

namespace kyutai {

namespace {
SamplingParams text_sampling(const AsrOptions& o) { return {o.temperature > 0, o.temperature, 0}; }
}  // namespace

AsrSession::AsrSession(const LmModel& model, AsrOptions options)
    : model_(model),
      stages_(model, options.seed, text_sampling(options), {}),
      words_(model.config().effective_asr_delay_in_tokens(), model.config().existing_text_padding_id,
             model.config().existing_text_end_padding_id) {
  pending_frame_.assign(model_.config().n_q, model_.config().audio_initial_token());
}

void AsrSession::reset() {
  stages_.reset();
  step_ = 0;
  text_token_ = 0;
  words_.reset();
  std::fill(pending_frame_.begin(), pending_frame_.end(), model_.config().audio_initial_token());
}

bool AsrSession::is_padding(int32_t token) const {
  const LmConfig& c = model_.config();
  return token == c.existing_text_padding_id || token == c.existing_text_end_padding_id;
}

AsrStep AsrSession::push_frame(const int32_t* codes, int count) {
  begin_frame(codes, count);
  return run_local();
}

const FrameRequest& AsrSession::begin_frame(const int32_t* codes, int count) {
  const LmConfig& c = model_.config();
  if (stages_.open()) fail(ErrorCode::InvalidState, "a frame is already open: finish it (or run it locally) first");
  if (count != c.n_q)
    fail(ErrorCode::InvalidArgument, "expected ", c.n_q, " codebooks in the audio frame, got ", count);
  for (int i = 0; i < count; ++i)
    if (codes[i] != -1 && (codes[i] < 0 || codes[i] >= c.card))
      fail(ErrorCode::InvalidArgument, "audio codebook ", i, ": token ", codes[i],
           " is out of range (expected -1 or 0..", c.card - 1, ")");
  FrameRequest req;
  req.tokens.resize(c.num_codebooks());
  req.tokens[0] = step_ == 0 ? c.text_initial_token() : text_token_;
  for (int i = 0; i < c.n_q; ++i) req.tokens[1 + i] = step_ == 0 ? c.audio_initial_token() : pending_frame_[i];
  req.vad = true;
  incoming_.assign(codes, codes + count);
  model_input_ = req.tokens;
  return stages_.begin(std::move(req));
}

AsrStep AsrSession::finish(FrameReply reply) { return complete(stages_.finish(std::move(reply)), false); }

AsrStep AsrSession::run_local() { return complete(stages_.run_local(), true); }

AsrStep AsrSession::complete(FrameReply reply, bool local) {
  AsrStep out;
  out.model_input = model_input_;
  if (local) {
    out.transformer_out = stages_.local().transformer_out;
    out.text_logits = stages_.local().text_logits;
  }
  out.vad = std::move(reply.vad);
  pending_frame_ = incoming_;
  text_token_ = reply.text_token;
  ++step_;
  out.step = step_;
  out.text_token = text_token_;
  out.is_padding = is_padding(text_token_);
  out.words = words_.push(text_token_);
  return out;
}

}  // namespace kyutai
