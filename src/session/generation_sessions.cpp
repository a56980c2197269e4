#include "session/generation_sessions.h"

#include "core/error.h"

namespace kyutai {

namespace {

GeneratedFrame to_frame(const GenStep& s, int64_t step) {
  GeneratedFrame f;
  f.step = step;
  f.text_token = s.text_token;
  if (!s.frame.empty()) {
    f.has_frame = true;
    f.frame_text = s.frame[0];
    f.audio.assign(s.frame.begin() + 1, s.frame.end());
  }
  return f;
}

void require_depformer(const LmModel& model, const char* what) {
  if (model.config().dep_q == 0)
    fail(ErrorCode::Unsupported, what, " needs a model that generates audio (dep_q > 0); this one has dep_q = 0");
}

}  // namespace

GenerationSession::GenerationSession(const LmModel& model, GenerationParams params, const char* what)
    : gen_((require_depformer(model, what), model), params),
      words_(0, model.config().existing_text_padding_id, model.config().existing_text_end_padding_id) {}

GeneratedFrame GenerationSession::complete(const GenStep& s) {
  GeneratedFrame f = to_frame(s, gen_.steps());
  f.words = words_.push(forced_text_.value_or(f.text_token));
  return f;
}

GeneratedFrame GenerationSession::finish(FrameReply reply) { return complete(gen_.finish(std::move(reply))); }

GeneratedFrame GenerationSession::run_local() { return complete(gen_.run_local()); }

void GenerationSession::reset() {
  gen_.reset();
  words_.reset();
}

TtsSession::TtsSession(const LmModel& model, GenerationParams params)
    : GenerationSession(model, params, "a TTS session"), silent_user_(model.config().n_q - model.config().dep_q, -1) {}

const FrameRequest& TtsSession::begin_text(int32_t text_token) {
  const FrameRequest& req = gen_.begin(silent_user_.data(), int(silent_user_.size()), text_token);
  forced_text_ = text_token;
  return req;
}

GeneratedFrame TtsSession::push_text(int32_t text_token) {
  begin_text(text_token);
  return run_local();
}

DuplexSession::DuplexSession(const LmModel& model, GenerationParams params)
    : GenerationSession(model, params, "a full-duplex session") {}

const FrameRequest& DuplexSession::begin_frame(const int32_t* user, int count) {
  const LmConfig& c = gen_.model().config();
  if (count != c.n_q - c.dep_q)
    fail(ErrorCode::InvalidArgument, "expected ", c.n_q - c.dep_q, " codebooks in the user frame, got ", count);
  return gen_.begin(user, count);
}

GeneratedFrame DuplexSession::push_frame(const int32_t* user, int count) {
  begin_frame(user, count);
  return run_local();
}

}  // namespace kyutai
