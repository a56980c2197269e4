// Kyutai's TTS state machine (moshi.models.tts.StateMachine): from the text token the model
// predicts at each step (new word / pad / anything else), decides what the text stream is fed:
// the next token of the current word, padding, or the start of the next word; with a second
// text stream it also feeds the tokens of the word `second_stream_ahead` words ahead.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "text/tts_script.h"

namespace kyutai {

struct TtsTokenIds {
  int card = 0;  // text_card + 1: the base of the two multiplexed text streams
  int new_word = 0, pad = 3, main = 1, other = 2, zero = -1;
};

struct TtsMachineState {
  std::deque<TtsEntry> entries;
  int remaining_padding = 0;  // pads the model may still choose before a new word is forced
  int forced_padding = 0;     // pads still forced
  std::deque<int> queued, lookahead_queued;
  std::optional<int> end_step;  // the step that tried to read past the last entry
  std::vector<int> consumption_times;
  std::vector<std::pair<std::string, int>> transcript;  // (word, step)
};

struct TtsMachineConfig {
  TtsTokenIds ids;
  int second_stream_ahead = 0;
  int max_padding = 8;  // TTSModel.from_checkpoint_info defaults
  int initial_padding = 2;
};

class TtsStateMachine {
 public:
  explicit TtsStateMachine(TtsMachineConfig config);
  const TtsMachineConfig& config() const { return config_; }

  TtsMachineState new_state(std::vector<TtsEntry> entries) const;
  // The token fed to the text stream after the model predicted `token` at `step`: with a second
  // stream, (second + 1) * card + main. `consumed_new_word` tells whether an entry was popped.
  int process(int step, TtsMachineState& state, int token, bool* consumed_new_word = nullptr) const;

 private:
  // The tokens of the entry `lookahead` non-empty entries ahead (State.get_tokens_ahead).
  static std::vector<int> tokens_ahead(const TtsMachineState& state, int lookahead);
  // Turns the (already forced) decision into the main-stream token, updating the state.
  int decide(int step, TtsMachineState& state, int token, bool* consumed) const;

  TtsMachineConfig config_;
};

}  // namespace kyutai
