// One LM frame split around the model forward, so a session's rules (alignment, delays,
// sampling with the engine's generator) run in C++ whichever backend computes the forward:
//
//   FrameRequest req = session.begin(input)        // tokens after delays/alignment
//   ... the forward runs (WebGPU, asynchronously): when the request asks for sampling it hands
//   the text logits to sample_text() and each codebook's logits to sample_audio(k, ...), in
//   order, and feeds the returned token back into the Depformer chain; greedy steps take the
//   argmax on the device (the whole Depformer chain at once) ...
//   result = session.finish(reply)                 // tokens, VAD, the position's new K/V rows
//
// The WebAssembly forward is run_local(): the same stages with LmModel in between, on the
// session's own LmState. That state doubles as the mirror of a remote forward: finish()
// appends the reply's K/V rows to it, so when a remote frame fails, run_local() redoes the
// open frame from the state before it, with the generator restored to the frame's start.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "lm/lm_model.h"
#include "lm/sampling.h"

namespace kyutai {

// What the forward of one frame must compute.
struct FrameRequest {
  std::vector<int32_t> tokens;         // [K] post-delay model input, text first
  std::optional<int32_t> forced_text;  // the text token (teacher-forced), instead of the text head's
  bool sample_text = false;            // the text token comes from sample_text(logits), not the argmax
  bool sample_audio = false;           // each codebook from sample_audio(k, logits), not the argmax
  bool depformer = false;              // the Depformer chain runs
  int codebooks = 0;                   // its positions (0 in begin()'s argument: all dep_q; 0 without Depformer)
  bool vad = false;                    // the extra heads' probabilities are wanted
};

// What the forward of one frame answers.
struct FrameReply {
  int32_t text_token = -1;            // the argmax, the forced or the sampled token
  std::vector<int32_t> audio_tokens;  // [dep_q] when the Depformer ran
  std::vector<float> vad;             // [heads * extra_heads_dim] when asked
  std::vector<float> kv_rows;         // remote forward: the position's K/V rows ([layer][k, v][kv_heads * head_dim]);
                                      // empty: the session keeps no mirror from then on
};

// The local forward's intermediate values of the last frame (tests and inspection).
struct LocalFrame {
  std::vector<float> transformer_out;   // [dim]
  std::vector<float> text_logits;       // [text_card_out]
  std::vector<float> depformer_logits;  // [dep_q, card]
};

// Appends one position's K/V rows of every layer to a streaming state, as a step would.
void append_kv_rows(const LmModel& model, LmState& state, const float* rows);
int kv_row_floats(const LmModel& model);

// The stages of one frame at a time, with the session's LmState and random generator.
class FrameStages {
 public:
  // A conditioned model (Kyutai's TTS) takes the stream's conditions (LmModel::new_state).
  FrameStages(const LmModel& model, uint64_t seed, SamplingParams text, SamplingParams audio,
              const LmConditions* conditions = nullptr);

  // A rule between the text head and the Depformer (Kyutai's TTS state machine): the token
  // sampled (or the argmax) -> the token the stream keeps and the Depformer reads. With a rule
  // every frame's text goes through sample_text(), greedy ones too.
  void set_text_rule(std::function<int32_t(int32_t)> rule) { text_rule_ = std::move(rule); }

  // Opens a frame (refused while one is open). The request must be fully valid.
  const FrameRequest& begin(FrameRequest request);
  int32_t sample_text(const float* logits, int count);
  int32_t sample_audio(int codebook, const float* logits, int count);
  // Checks the reply against the request (sizes, ranges, the tokens sampled here) before
  // any state changes, then closes the frame. Returns the reply with every token filled in.
  FrameReply finish(FrameReply reply);
  // Runs the open frame on the WebAssembly forward from its start and closes it.
  FrameReply run_local();

  // Drops the open frame and the stream: step 0 again.
  void reset();
  bool open() const { return open_; }
  bool has_mirror() const { return mirror_; }
  const LmModel& model() const { return model_; }
  const LmState& state() const { return state_; }
  const LocalFrame& local() const { return local_; }
  size_t state_bytes() const { return state_.bytes(); }

 private:
  void require_open(const char* what) const;
  void close() { open_ = false; }

  const LmModel& model_;
  SamplingParams text_params_, audio_params_;
  uint64_t seed_;
  Random rng_;
  Random frame_start_rng_;  // the generator when the open frame began
  LmState state_;           // the local forward's stream, the mirror of a remote one
  bool mirror_ = true;      // state_ holds every frame so far
  bool open_ = false;
  FrameRequest request_;
  std::optional<int32_t> sampled_text_;
  std::vector<int32_t> sampled_audio_;
  LocalFrame local_;
  std::function<int32_t(int32_t)> text_rule_;
};

}  // namespace kyutai
