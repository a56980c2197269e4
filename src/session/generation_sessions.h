// Sessions that generate audio with the Depformer, on top of LmGen.
//   TtsSession:    text tokens in (teacher-forced text stream), audio token frames out.
//   DuplexSession: the user's audio frames in (Moshi), the model's text and audio out.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lm/lm_gen.h"
#include "session/word_stream.h"

namespace kyutai {

struct GeneratedFrame {
  int64_t step = 0;
  int32_t text_token = -1;     // text sampled or forced at this step
  bool has_frame = false;      // the undelayed frame below is complete
  int32_t frame_text = -1;     // text token of the undelayed frame
  std::vector<int32_t> audio;  // [dep_q] codebooks the Depformer writes
  WordUpdate words;            // Kyutai's word rule over the text stream (the forced tokens for TTS)
};

// The stages both sessions share (lm/forward.h), over their LmGen.
class GenerationSession {
 public:
  int32_t sample_text(const float* logits, int count) { return gen_.sample_text(logits, count); }
  int32_t sample_audio(int k, const float* logits, int count) { return gen_.sample_audio(k, logits, count); }
  GeneratedFrame finish(FrameReply reply);
  GeneratedFrame run_local();  // the open frame on the local forward (also the redo of a failed remote one)
  void reset();
  // End of the input: the word still being spelled.
  std::vector<Word> flush_words() { return words_.flush().words; }
  bool frame_open() const { return gen_.frame_open(); }
  int64_t steps() const { return gen_.steps(); }
  const LmModel& model() const { return gen_.model(); }
  size_t state_bytes() const { return gen_.state_bytes(); }

 protected:
  GenerationSession(const LmModel& model, GenerationParams params, const char* what);
  GeneratedFrame complete(const GenStep& s);

  LmGen gen_;
  SessionWords words_;
  std::optional<int32_t> forced_text_;  // TTS: the open step's forced token, which the words follow
};

class TtsSession : public GenerationSession {
 public:
  TtsSession(const LmModel& model, GenerationParams params);
  // One step with `text_token` on the text stream (-1: no text; padding ids allowed).
  GeneratedFrame push_text(int32_t text_token);
  const FrameRequest& begin_text(int32_t text_token);

 private:
  std::vector<int32_t> silent_user_;  // user stream absent: -1 (zero embedding)
};

class DuplexSession : public GenerationSession {
 public:
  DuplexSession(const LmModel& model, GenerationParams params);
  // `user` holds the n_q - dep_q codes of the user's audio stream.
  GeneratedFrame push_frame(const int32_t* user, int count);
  const FrameRequest& begin_frame(const int32_t* user, int count);
};

}  // namespace kyutai
