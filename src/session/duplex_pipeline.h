// Full duplex (Moshi) as one pipeline per audio frame, so codes never leave the engine
// between two of its calls: the user's PCM frame -> Mimi encode (the user's codebooks) ->
// DuplexSession step -> Mimi decode of the generated frame -> PCM, plus the text token and
// the session's words (Kyutai's word rule, word_stream.h, no delay).
//
// Staged like the sessions (lm/forward.h): begin() encodes and opens the LM frame, the
// forward runs (local or remote), finish() completes it and decodes; step() is begin() and
// the local forward.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/mimi.h"
#include "session/generation_sessions.h"
#include "session/word_stream.h"

namespace kyutai {

struct DuplexStep {
  int64_t step = 0;
  int32_t text_token = -1;          // sampled at this step
  std::vector<int32_t> user_codes;  // [n_q - dep_q] Mimi's codes of the user's frame
  bool has_frame = false;           // a generated frame became complete (after max_delay steps)
  int32_t frame_text = -1;          // its text token
  std::vector<int32_t> audio;       // its [dep_q] codes
  std::vector<float> pcm;           // its samples (frame_size), empty without a frame
  WordUpdate words;                 // what this step's text token completes
};

class DuplexPipeline {
 public:
  // Both must outlive the pipeline.
  DuplexPipeline(const LmModel& model, const Mimi& codec, GenerationParams params);

  DuplexStep step(const float* pcm, int count);
  const FrameRequest& begin(const float* pcm, int count);
  // A frame of the user's codes instead of audio (n_q - dep_q codes; no encode).
  DuplexStep step_codes(const int32_t* codes, int count);
  const FrameRequest& begin_codes(const int32_t* codes, int count);
  int32_t sample_text(const float* logits, int count) { return session_.sample_text(logits, count); }
  int32_t sample_audio(int k, const float* logits, int count) { return session_.sample_audio(k, logits, count); }
  DuplexStep finish(FrameReply reply);
  DuplexStep run_local();  // the open frame on the local forward (also the redo of a failed remote one)
  // End of the conversation: the word still being spelled.
  std::vector<Word> flush_words() { return session_.flush_words(); }
  void reset();

  int frame_size() const { return codec_.frame_size(); }
  int64_t steps() const { return session_.steps(); }
  bool frame_open() const { return session_.frame_open(); }
  const DuplexSession& session() const { return session_; }

 private:
  DuplexStep complete(GeneratedFrame frame);

  const Mimi& codec_;
  DuplexSession session_;
  MimiState encoder_, decoder_;
  std::vector<int32_t> user_codes_;  // of the open frame
};

}  // namespace kyutai
