// The text stream of a speech-to-text model turned into words, exactly as Kyutai's STT
// server does it (moshi-core asr.rs, `State::step_tokens`):
//  * nothing is reported while fewer than `asr_delay_in_tokens` steps were taken;
//  * a padding token (3) or end-of-padding token (0) closes the word being spelled:
//    `Word{tokens, start = last stop time}`, and the word is marked unended;
//  * any other non-negative token is appended to the word being spelled (a negative one,
//    "no token", only counts as a step);
//  * token 0 also stamps `stop = (step - delay) / frame_rate`: an unended word gets
//    `EndWord{stop}`, and the stop becomes the start of the next word.
// Kyutai hard-codes 3 and 0; here they come from the config (existing_text_padding_id,
// existing_text_end_padding_id), which hold 3 and 0 in every released model.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace kyutai {

struct WordEvent {
  enum class Kind { Word, EndWord };
  Kind kind;
  std::vector<int32_t> tokens;  // Word: the word's pieces
  double time = 0;              // Word: start time; EndWord: stop time (seconds)
};

class WordStream {
 public:
  WordStream(int asr_delay_in_tokens, int32_t padding_id, int32_t end_padding_id, double frame_rate = 12.5);

  // The text token predicted at one step. Appends the events it causes to `out`.
  void push(int32_t token, std::vector<WordEvent>* out);
  // End of input: a word still being spelled is emitted, then ended, at the current time;
  // an emitted but unended word gets its EndWord.
  void flush(std::vector<WordEvent>* out);
  void reset();

  int64_t steps() const { return step_; }
  // Seconds of audio the stream has reported on (the step clock minus the delay).
  double now() const;
  bool word_open() const { return !pieces_.empty(); }

 private:
  int delay_;
  int32_t padding_, end_padding_;
  double frame_rate_;
  int64_t step_ = 0;
  std::vector<int32_t> pieces_;
  bool unended_ = false;
  double last_stop_ = 0;
};

// A word of a live session: given at the step its pieces are complete, its end (seconds)
// once the end-of-padding token that closes it arrives.
struct Word {
  std::vector<int32_t> tokens;
  double start = 0;
  std::optional<double> end;
};

// What one step means for a live session's words: those it gave (at once: completed at this
// step, an end already set when the same step closed them; once ended: ended at this step),
// a word given at an earlier step whose end it fixed (at once only), and how many words'
// pieces it completed (a word starts a turn when its pieces are complete, not when given).
struct WordUpdate {
  std::vector<Word> words;
  std::optional<Word> ended;
  int started = 0;
};

// When a word is given. AtOnce: at the step its pieces are complete, its end set when known
// (WordUpdate::ended): the live sessions' words. OnceEnded: whole, once its end is known, as
// Kyutai's STT clients pair Word and EndWord: the transcriber's words. Kyutai's stream can
// leave a word unended (closed by padding 3, then the next word's pieces come before any
// end-of-padding 0): given once ended, it ends where the next word starts (its own start in
// Kyutai's stream: the model never said when it ended); given at once, its end stays unknown.
enum class WordTiming { AtOnce, OnceEnded };

// Kyutai's word rule (WordStream) for a session fed one text token per step, its Word and
// EndWord events paired into words: what the ASR, TTS and duplex sessions and the
// transcriber report per step.
class SessionWords {
 public:
  SessionWords(int delay, int32_t padding_id, int32_t end_padding_id, double frame_rate = 12.5,
               WordTiming timing = WordTiming::AtOnce);
  WordUpdate push(int32_t token);
  // End of input: the pieces still pending form the last word, ended now; every word ends.
  WordUpdate flush();
  void reset();
  // Seconds of audio the stream has reported on (WordStream::now).
  double now() const { return stream_.now(); }

 private:
  WordUpdate pair(std::vector<WordEvent> events);
  void end_unended(double time, int given_here, WordUpdate* out);

  WordStream stream_;
  WordTiming timing_;
  std::optional<Word> unended_;  // the last word whose pieces are complete, while its end is unknown
};

}  // namespace kyutai
