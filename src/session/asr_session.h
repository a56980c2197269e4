// Speech recognition over audio token frames, aligned as Kyutai's Rust ASR
// (moshi-core asr.rs, `State::step_tokens`): one LM step per frame; step 0 reads the initial
// tokens (text_card, card) and keeps the frame; step t >= 1 reads the text token of step
// t - 1 and the frame received at step t - 1. No frame is dropped; the audio lags one step.
// A step is staged around the forward (lm/forward.h): begin_frame() -> the forward (local or
// remote) -> finish(); push_frame() is begin_frame() and the local forward.
#pragma once

#include <cstdint>
#include <vector>

#include "lm/forward.h"
#include "lm/lm_model.h"
#include "lm/sampling.h"
#include "session/word_stream.h"

namespace kyutai {

struct AsrOptions {
  float temperature = 0.0f;  // <= 0: argmax (Kyutai's default for STT)
  uint64_t seed = 0;
};

struct AsrStep {
  int64_t step = 0;  // steps taken, this one included (Kyutai's step_idx)
  int32_t text_token = -1;
  bool is_padding = false;             // existing_text_padding_id or end-of-padding id
  std::vector<float> vad;              // [heads, extra_heads_dim] softmax of each extra head
  std::vector<int32_t> model_input;    // [K] what the network read
  std::vector<float> text_logits;      // local forward only
  std::vector<float> transformer_out;  // local forward only
  WordUpdate words;                    // Kyutai's word rule over the text stream (delayed by asr_delay_in_tokens)
};

class AsrSession {
 public:
  AsrSession(const LmModel& model, AsrOptions options = {});
  // `codes` holds n_q audio codes (the codebooks the model reads).
  AsrStep push_frame(const int32_t* codes, int count);
  // The same step in stages; the frame is checked in begin_frame() before any state changes.
  const FrameRequest& begin_frame(const int32_t* codes, int count);
  int32_t sample_text(const float* logits, int count) { return stages_.sample_text(logits, count); }
  int32_t sample_audio(int k, const float* logits, int count) { return stages_.sample_audio(k, logits, count); }
  AsrStep finish(FrameReply reply);
  AsrStep run_local();  // the open frame on the local forward (also the redo of a failed remote one)
  void reset();
  // End of the audio: the word still being spelled.
  std::vector<Word> flush_words() { return words_.flush().words; }

  const LmModel& model() const { return model_; }
  int64_t steps() const { return step_; }
  bool frame_open() const { return stages_.open(); }
  size_t state_bytes() const { return stages_.state_bytes(); }
  bool is_padding(int32_t token) const;

 private:
  AsrStep complete(FrameReply reply, bool local);

  const LmModel& model_;
  FrameStages stages_;
  int64_t step_ = 0;
  int32_t text_token_ = 0;
  std::vector<int32_t> pending_frame_;  // the frame the next step will read
  std::vector<int32_t> incoming_;       // the open step's frame, read by the step after it
  std::vector<int32_t> model_input_;    // of the open step
  SessionWords words_;
};

}  // namespace kyutai
