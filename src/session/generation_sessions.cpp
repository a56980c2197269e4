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

TtsSession::TtsSession(const LmModel& model, GenerationParams params)
    : gen_((require_depformer(model, "a TTS session"), model), params),
      silent_user_(model.config().n_q - model.config().dep_q, -1) {}

GeneratedFrame TtsSession::push_text(int32_t text_token) {
  GenStep s = gen_.step(silent_user_.data(), int(silent_user_.size()), text_token);
  return to_frame(s, gen_.steps());
}

DuplexSession::DuplexSession(const LmModel& model, GenerationParams params)
    : gen_((require_depformer(model, "a full-duplex session"), model), params) {}

GeneratedFrame DuplexSession::push_frame(const int32_t* user, int count) {
  const LmConfig& c = gen_.model().config();
  if (count != c.n_q - c.dep_q)
    fail(ErrorCode::InvalidArgument, "expected ", c.n_q - c.dep_q, " codebooks in the user frame, got ", count);
  return to_frame(gen_.step(user, count), gen_.steps());
}

}  // namespace kyutai
