// Kyutai's TTS generation loop (TTSModel.generate driving LMGen.step), one step at a time, on
// a conditioned LmModel: the state machine turns each predicted text token into the fed one
// before the Depformer; the Depformer waits `delay_steps`; audio codebooks stay -1 until their
// delay (plus delay_steps) has passed; frames come out with the delays undone. CFG-distilled
// models take their coefficient through the `cfg` LUT (tts_condition_attributes); real CFG
// (cfg_coef != 1) runs a null-condition stream beside the conditioned one and mixes the
// Depformer logits (the text logits are the conditioned stream's).
//
// One stream (every model but real CFG) is also staged as lm/forward.h, for a forward that
// runs elsewhere (WebGPU): begin() -> sample_text() (the state machine turns the text head's
// token into the fed one there) / sample_audio() -> finish(reply), or run_local().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "lm/forward.h"
#include "lm/lm_model.h"
#include "lm/sampling.h"
#include "session/tts_state_machine.h"

namespace kyutai {

struct TtsGenerateOptions {
  double cfg_coef = 1.0;  // TTSModel.cfg_coef: != 1 means real CFG (needs null conditions)
  int max_gen_length = 30000;
  int final_padding = 4;
  // Audio codebooks generated (TTSModel.n_q; moshi-server runs the release with 24 of 32):
  // the Depformer stops there, later codebooks are fed -1. 0 = all of dep_q.
  int n_q = 0;
  SamplingParams text, audio;  // greedy by default; Kyutai's defaults: temperature 0.6 for both
  uint64_t seed = 0;
  bool record = false;  // keep every step's inputs and logits (TtsStepRecord)

  // Kyutai's TTS sampling: temperature `temp` for text and audio (TTSModel.temp, 0.6), LMGen's
  // top-k 25 (text) and 250 (audio), drawn from `seed`.
  static TtsGenerateOptions sampling(double temp = 0.6, uint64_t seed = 0);
};

// What one step read and produced (kept when TtsGenerateOptions::record).
struct TtsStepRecord {
  std::vector<int32_t> model_input;  // [streams, K]: row 1 = the null stream with real CFG
  std::vector<float> text_logits;    // [streams, text_card_out]
  int predicted_text = 0, fed_text = 0;
  bool depformer_ran = false;
  std::vector<int32_t> depformer_input;      // [n_q], the inputs of positions 0..n_q-1
  std::vector<float> depformer_logits;       // [n_q, card] (conditioned stream)
  std::vector<float> depformer_logits_null;  // [n_q, card] with real CFG
};

class TtsGenerator {
 public:
  // `null_conditions` is required when options.cfg_coef != 1 and refused for a CFG-distilled
  // model (as Kyutai's generate). The model and machine must outlive the generator.
  TtsGenerator(const LmModel& model, const TtsStateMachine& machine, std::vector<TtsEntry> entries,
               const LmConditions& conditions, const LmConditions* null_conditions, TtsGenerateOptions options);
  TtsGenerator(const TtsGenerator&) = delete;
  TtsGenerator& operator=(const TtsGenerator&) = delete;

  // False once Kyutai's loop would stop: end_step + delay_steps + final_padding reached, or
  // max_gen_length steps run.
  bool running() const;
  // Runs step offset(); returns its frame [1 + n_q] (text, audio...) once the delays allow
  // (from step max_delay on), else an empty vector.
  std::vector<int32_t> step();

  // The staged step (one stream only: staged()). begin() is refused where step() is; the
  // frame comes from finish(reply) or run_local() (also the redo of a failed remote frame).
  bool staged() const { return stages_ != nullptr; }
  const FrameRequest& begin();
  int32_t sample_text(const float* logits, int count);
  int32_t sample_audio(int codebook, const float* logits, int count);
  std::vector<int32_t> finish(FrameReply reply);
  std::vector<int32_t> run_local();
  // The conditioned stream's state (its condition sum and cross-attention keys/values).
  const LmState& state() const { return stages_ ? stages_->state() : state_; }

  int offset() const { return offset_; }
  int delay_steps() const { return delay_steps_; }
  // The machine's state: more entries may be appended while generating (text streamed in).
  TtsMachineState& machine_state() { return machine_state_; }
  const std::vector<TtsStepRecord>& records() const { return records_; }

 private:
  void validate(const LmConditions* null_conditions) const;
  void require_running() const;
  std::vector<int32_t> model_input(bool null_stream) const;
  int32_t feed_text(int32_t predicted);  // the state machine: the text stream's token of this step
  std::vector<int32_t> step_real_cfg();
  void run_depformer(int32_t text, const float* out, const float* out_null, std::vector<int32_t>& audio,
                     TtsStepRecord& rec);
  // The rules after the forward: audio masking, the kept tokens, the frame with delays undone.
  std::vector<int32_t> complete(TtsStepRecord rec, std::vector<int32_t> audio);

  const LmModel& model_;
  const TtsStateMachine& machine_;
  TtsGenerateOptions options_;
  bool real_cfg_;
  int n_q_;  // audio codebooks generated
  int delay_steps_;
  TtsMachineState machine_state_;
  TtsMachineState machine_at_begin_;     // staged: a frame redone locally replays the machine from here
  std::unique_ptr<FrameStages> stages_;  // one stream: its state, generator and stages
  TtsStepRecord open_;                   // staged: the open frame's record
  LmState state_, null_state_;           // real CFG: the two streams
  Random rng_;
  int offset_ = 0;
  // Tokens kept at past steps, by step: text (fed) and audio (after masking).
  std::vector<int32_t> text_history_;
  std::vector<std::vector<int32_t>> audio_history_;
  std::vector<TtsStepRecord> records_;
};

struct TtsResult {
  std::vector<std::vector<int32_t>> frames;  // each [1 + n_q], from step max_delay on
  std::optional<int> end_step;
  std::vector<int> consumption_times;
  std::vector<std::pair<std::string, int>> transcript;
  std::vector<TtsStepRecord> steps;  // when options.record
};

// The whole loop (TTSModel.generate for one item), calling on_frame for each frame.
TtsResult tts_generate(const LmModel& model, const TtsStateMachine& machine, std::vector<TtsEntry> entries,
                       const LmConditions& conditions, const LmConditions* null_conditions,
                       const TtsGenerateOptions& options,
                       const std::function<void(const std::vector<int32_t>&)>& on_frame = nullptr);

// The state machine Kyutai builds for a model (TTSModel.from_checkpoint_info defaults).
TtsMachineConfig tts_machine_config(const LmConfig& config);

}  // namespace kyutai
