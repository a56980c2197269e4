// A TTS speaker session: Kyutai's TTS generation (TtsGenerator) for one voice, fed text as a
// whole script or word by word (text streamed from an LLM), one frame per step(). Each step
// gives the frame's codes, its PCM through Mimi when a codec is attached (the first
// delay_steps frames dropped, as Kyutai does before decoding) and the words started.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec/mimi.h"
#include "lm/conditioners.h"
#include "lm/lm_model.h"
#include "session/tts_generate.h"
#include "text/sentencepiece.h"

namespace kyutai {

struct TtsWordTiming {
  std::string text;
  // The generation step that consumed the word. Its audio starts at step / frame_rate seconds
  // of the speaker's PCM: the audio lags the text by delay_steps, the frames Kyutai drops.
  int step = 0;
};

struct TtsSpeakerStep {
  int step = 0;                      // the generation step that ran
  std::vector<int32_t> frame;        // [1 + n_q] (text, audio...), empty for the first max-delay steps
  std::vector<float> pcm;            // frame_size samples once a frame is past delay_steps, with a codec
  std::vector<TtsWordTiming> words;  // words consumed at this step
};

class TtsSpeaker {
 public:
  // `cfg`: through the `cfg` LUT for a CFG-distilled model (one of its possible values), else
  // real CFG with a null-condition stream (1 = none). `generate.cfg_coef` is ignored. The model,
  // tokenizer and codec (optional) must outlive the speaker.
  TtsSpeaker(const LmModel& model, const SentencePiece& tokenizer, const Voice& voice, double cfg,
             TtsGenerateOptions generate = {}, const Mimi* codec = nullptr);

  // Appends text; words complete once whitespace (or end()) follows them.
  void push_text(const std::string& text);
  // No more text: the last word is complete and the script may end.
  void end();
  // Whether step() may run: the script ended, or enough words are queued that the state machine
  // cannot run out of text (its second stream reads second_stream_ahead words ahead).
  bool ready() const;
  // False once generation has finished (Kyutai's stop rule after end()).
  bool running() const;
  // Runs one generation step; refused (InvalidState) when !ready() or !running().
  TtsSpeakerStep step();

  // The same step staged (lm/forward.h) around a forward that runs elsewhere (WebGPU), for
  // one stream (staged(): not real CFG): begin() (refused where step() is), sample_text /
  // sample_audio as the request says, then finish(reply) or run_local().
  bool staged() const { return generator_->staged(); }
  const FrameRequest& begin();
  int32_t sample_text(const float* logits, int count) { return generator_->sample_text(logits, count); }
  int32_t sample_audio(int k, const float* logits, int count) { return generator_->sample_audio(k, logits, count); }
  TtsSpeakerStep finish(FrameReply reply) { return complete(generator_->finish(std::move(reply))); }
  TtsSpeakerStep run_local() { return complete(generator_->run_local()); }
  // The conditioned stream (its condition sum and cross-attention keys/values).
  const LmState& state() const { return generator_->state(); }

  int delay_steps() const { return generator_->delay_steps(); }
  int sample_rate() const { return codec_ ? codec_->sample_rate() : 0; }
  int frame_size() const { return codec_ ? codec_->frame_size() : 0; }
  double frame_rate() const { return codec_ ? codec_->frame_rate() : 12.5; }

 private:
  static TtsGenerateOptions options_for(const LmModel& model, double cfg, TtsGenerateOptions generate);
  void validate_codec(int n_q) const;
  void append_words(const std::string& text);
  void require_step() const;
  // After the forward: the frame's PCM (past delay_steps, with a codec) and the words started.
  TtsSpeakerStep complete(std::vector<int32_t> frame);

  const LmModel& model_;
  const SentencePiece& tokenizer_;
  const Mimi* codec_;
  std::unique_ptr<TtsStateMachine> machine_;
  std::unique_ptr<LmConditions> conditions_, null_conditions_;  // the generator's states point at them
  std::unique_ptr<TtsGenerator> generator_;
  std::optional<MimiState> codec_state_;
  std::string pending_;  // text after the last complete word
  bool ended_ = false, any_words_ = false;
  int frames_out_ = 0;
  int step_ = 0;  // the step begun or run
  size_t words_reported_ = 0;
};

}  // namespace kyutai
