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

// One piece of a turn, in order: a word, or a pause from <break time="Xs"/> (empty word).
struct TtsScriptPiece {
  std::string word;
  double pause_seconds = 0;
};

// Kyutai's clean-up (’ -> ', ':' -> ' ', '(' ')' removed) and split of one turn (its event
// regex): words between runs of whitespace (Python's \s: Unicode whitespace) and break tags.
// A break whose duration Python's float() refuses, or one longer than an hour, is refused
// (InvalidArgument).
std::vector<TtsScriptPiece> split_script_turn(const std::string& turn);

// Bytes of the whitespace character (Python's str.isspace: Unicode whitespace, UTF-8) at
// text[at]; 0 when none starts there.
size_t whitespace_length(const std::string& text, size_t at);

// `script` holds one string per turn, alternating main / other speaker (an empty first turn
// starts with the other speaker). Applies Kyutai's clean-up: ’ -> ', ':' -> ' ', '(' ')' removed.
std::vector<TtsEntry> script_to_entries(const SentencePiece& tokenizer, const std::vector<std::string>& script,
                                        const TtsScriptOptions& options = {});

}  // namespace kyutai
