// Kyutai's TTS script parsing (moshi.models.tts.script_to_entries): turns of text become
// entries the state machine feeds one at a time: a word's tokens (the turn's speaker token
// first when the speaker changes) and the padding forced after it, or a pause from
// <break time="Xs"/>.
#pragma once

#include <string>
#include <vector>

namespace kyutai {

class SentencePiece;

struct TtsEntry {
  std::vector<int> tokens;  // empty for a break
  std::string text;
  int padding = 0;  // steps during which no new word may start
};

struct TtsScriptOptions {
  double frame_rate = 12.5;
  bool multi_speaker = true;  // the model has a speaker_wavs conditioner
  int padding_between = 1;    // Kyutai's tts_pytorch.py uses 1
  int main_token = 1, other_token = 2;
  // The speaker (0 main, 1 other) of text converted before this script, -1 for none: text
  // streamed in pieces continues that turn without a new speaker token.
  int previous_speaker = -1;
};

// `script` holds one string per turn, alternating main / other speaker (an empty first turn
// starts with the other speaker). Applies Kyutai's clean-up: ’ -> ', ':' -> ' ', '(' ')' removed.
std::vector<TtsEntry> script_to_entries(const SentencePiece& tokenizer, const std::vector<std::string>& script,
                                        const TtsScriptOptions& options = {});

}  // namespace kyutai
