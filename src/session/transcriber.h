// Speech-to-text as Kyutai ships it: audio (through Mimi) or token frames in; words with
// timestamps, per-frame semantic-VAD probabilities and end-of-turn events out; flush() to
// get the last words when the audio stops.
//
//  * Each frame runs one ASR step (asr_session.h: Kyutai's Rust alignment) and feeds the
//    predicted text token to Kyutai's word rule (word_stream.h), whose words are given whole
//    once their end is known (WordTiming::OnceEnded).
//  * VAD: the pause probability of extra head h is element 0 of its softmax. End of turn
//    fires when the chosen head's pause probability rises above the threshold (defaults:
//    head 2, 0.5, as Kyutai's clients use), at most once until the next word starts (its
//    pieces are complete, which may be steps before the word is given).
//  * audio_silence_prefix_seconds of silence go in before the first frame; flush() feeds
//    audio_delay_seconds + 1 s of silence (zeros through Mimi when a codec is attached,
//    otherwise the codes given as `silence_codes`, or absent tokens) so the last words come
//    out, then closes a word still being spelled.
//  * Times are in seconds of the user's audio: the silence prefix is not counted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "codec/mimi.h"
#include "session/asr_session.h"
#include "session/turn_detector.h"
#include "session/word_stream.h"

namespace kyutai {

struct TranscriberOptions {
  AsrOptions asr;
  int vad_head = 2;
  float end_of_turn_threshold = 0.5f;
  std::vector<int32_t> silence_codes;  // token frames only: the codes of a silent frame
};

struct TranscriptEvent {
  enum class Type { Word, Vad, EndOfTurn };
  Type type;
  Word word;                 // Word: its pieces, start and end (always set)
  double time = 0;           // Vad/EndOfTurn: frame time
  std::vector<float> pause;  // Vad: pause probability of each head
  float probability = 0;     // EndOfTurn: the chosen head's pause probability
  int64_t step = 0;          // the ASR step that produced the event
};

// One frame's result (as moshi-core's AsrMsg): the last step it ran, what that step read and
// predicted (for live views such as a token grid), and every event of the frame in order.
struct TranscriberStep {
  int64_t step = 0;            // steps taken, the frame's last one included
  int32_t text_token = -1;     // the last step's text token
  std::vector<int32_t> codes;  // the audio codes the last step was given
  std::vector<TranscriptEvent> events;
};

class Transcriber {
 public:
  // `codec` may be null (token frames only). Both must outlive the transcriber.
  Transcriber(const LmModel& model, const Mimi* codec, TranscriberOptions options = {});

  // One frame of audio: codec->frame_size() samples.
  TranscriberStep push_audio(const float* samples, int count);
  // One frame of audio tokens: the model's n_q codebooks.
  TranscriberStep push_codes(const int32_t* codes, int count);
  std::vector<TranscriptEvent> flush();
  void reset();

  int64_t steps() const { return asr_.steps(); }
  int frame_size() const;
  double frame_rate() const { return frame_rate_; }

 private:
  void step_codes(const int32_t* codes, int count, TranscriberStep* out);
  void silence(int frames, TranscriberStep* out);
  void prefix_if_first(TranscriberStep* out);
  void emit_words(WordUpdate words, int64_t step, std::vector<TranscriptEvent>* out);

  const LmModel& model_;
  const Mimi* codec_;
  TranscriberOptions options_;
  AsrSession asr_;
  SessionWords words_;
  std::optional<MimiState> codec_state_;
  double frame_rate_;
  double prefix_seconds_;
  bool started_ = false;
  TurnDetector turn_;
};

}  // namespace kyutai
