// End-of-turn detection from the semantic-VAD pause probability, as Kyutai's clients do it
// (end of turn when the chosen head's pause probability exceeds a threshold), reported at
// most once per turn: a turn starts with a word, so there is no end of turn before the first
// word and none twice in a row.
#pragma once

namespace kyutai {

class TurnDetector {
 public:
  explicit TurnDetector(float threshold = 0.5f) : threshold_(threshold) {}
  void on_word() { in_turn_ = true; }
  // True when this frame's pause probability ends the current turn.
  bool on_pause(float probability) {
    if (!in_turn_ || !(probability > threshold_)) return false;
    in_turn_ = false;
    return true;
  }
  void reset() { in_turn_ = false; }
  float threshold() const { return threshold_; }

 private:
  float threshold_;
  bool in_turn_ = false;
};

}  // namespace kyutai
