#include "session/transcriber.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace kyutai {

Transcriber::Transcriber(const LmModel& model, const Mimi* codec, TranscriberOptions options)
    : model_(model),
      codec_(codec),
      options_(std::move(options)),
      asr_(model, options_.asr),
      words_(model.config().effective_asr_delay_in_tokens(), model.config().existing_text_padding_id,
             model.config().existing_text_end_padding_id, codec ? codec->frame_rate() : 12.5, WordTiming::OnceEnded),
      frame_rate_(codec ? codec->frame_rate() : 12.5),
      prefix_seconds_(model.config().stt_config ? model.config().stt_config->audio_silence_prefix_seconds : 0.0),
      turn_(options_.end_of_turn_threshold) {
  const LmConfig& c = model.config();
  if (c.extra_heads_num_heads > 0 && (options_.vad_head < 0 || options_.vad_head >= c.extra_heads_num_heads))
    fail(ErrorCode::InvalidArgument, "VAD head ", options_.vad_head, " does not exist (the model has ",
         c.extra_heads_num_heads, " extra heads)");
  if (codec_) {
    if (codec_->num_codebooks() < c.n_q)
      fail(ErrorCode::InvalidArgument, "the codec writes ", codec_->num_codebooks(), " codebooks but the model reads ",
           c.n_q);
    if (codec_->cardinality() > c.card)
      fail(ErrorCode::InvalidArgument, "the codec's codes (0..", codec_->cardinality() - 1,
           ") do not fit the model's audio vocabulary of ", c.card);
    codec_state_ = codec_->new_state(c.n_q);
  }
  if (!options_.silence_codes.empty() && int(options_.silence_codes.size()) != c.n_q)
    fail(ErrorCode::InvalidArgument, "silence_codes has ", options_.silence_codes.size(), " codes, expected ", c.n_q);
}

int Transcriber::frame_size() const {
  if (!codec_) fail(ErrorCode::InvalidState, "this transcriber has no codec: push token frames");
  return codec_->frame_size();
}

void Transcriber::reset() {
  asr_.reset();
  words_.reset();
  if (codec_state_) codec_state_->reset();
  started_ = false;
  turn_.reset();
}

void Transcriber::emit_words(WordUpdate words, int64_t step, std::vector<TranscriptEvent>* out) {
  for (int i = 0; i < words.started; ++i) turn_.on_word();
  for (Word& w : words.words) {
    TranscriptEvent e;
    e.type = TranscriptEvent::Type::Word;
    e.word = std::move(w);
    e.word.start = std::max(0.0, e.word.start - prefix_seconds_);
    e.word.end = std::max(0.0, *e.word.end - prefix_seconds_);
    e.step = step;
    out->push_back(std::move(e));
  }
}

void Transcriber::step_codes(const int32_t* codes, int count, TranscriberStep* result) {
  std::vector<TranscriptEvent>* out = &result->events;
  AsrStep s = asr_.push_frame(codes, count);
  result->step = s.step;
  result->text_token = s.text_token;
  result->codes.assign(codes, codes + count);
  emit_words(words_.push(s.text_token), s.step, out);
  const LmConfig& c = model_.config();
  if (c.extra_heads_num_heads > 0) {
    TranscriptEvent vad;
    vad.type = TranscriptEvent::Type::Vad;
    vad.time = std::max(0.0, words_.now() - prefix_seconds_);
    vad.step = s.step;
    for (int h = 0; h < c.extra_heads_num_heads; ++h) vad.pause.push_back(s.vad[size_t(h) * c.extra_heads_dim]);
    const float pause = vad.pause[options_.vad_head];
    out->push_back(vad);
    if (turn_.on_pause(pause)) {
      TranscriptEvent eot;
      eot.type = TranscriptEvent::Type::EndOfTurn;
      eot.time = out->back().time;
      eot.probability = pause;
      eot.step = s.step;
      out->push_back(eot);
    }
  }
}

void Transcriber::silence(int frames, TranscriberStep* out) {
  const LmConfig& c = model_.config();
  std::vector<int32_t> codes(c.n_q, -1);
  std::vector<float> zeros;
  if (codec_) zeros.assign(codec_->frame_size(), 0.0f);
  else if (!options_.silence_codes.empty()) codes = options_.silence_codes;
  for (int f = 0; f < frames; ++f) {
    if (codec_) codec_->encode_step(zeros.data(), *codec_state_, codes.data());
    step_codes(codes.data(), c.n_q, out);
  }
}

void Transcriber::prefix_if_first(TranscriberStep* out) {
  if (started_) return;
  started_ = true;
  silence(int(std::lround(prefix_seconds_ * frame_rate_)), out);
}

TranscriberStep Transcriber::push_codes(const int32_t* codes, int count) {
  const LmConfig& c = model_.config();
  if (count != c.n_q)  // checked before the silence prefix runs: a bad frame changes nothing
    fail(ErrorCode::InvalidArgument, "expected ", c.n_q, " codebooks in the audio frame, got ", count);
  TranscriberStep out;
  prefix_if_first(&out);
  step_codes(codes, count, &out);
  return out;
}

TranscriberStep Transcriber::push_audio(const float* samples, int count) {
  if (!codec_) fail(ErrorCode::InvalidState, "this transcriber has no codec: push token frames");
  if (count != codec_->frame_size())
    fail(ErrorCode::InvalidArgument, "expected an audio frame of ", codec_->frame_size(), " samples, got ", count);
  TranscriberStep out;
  prefix_if_first(&out);
  std::vector<int32_t> codes(model_.config().n_q);
  codec_->encode_step(samples, *codec_state_, codes.data());  // validates the samples (NaN, inf)
  step_codes(codes.data(), int(codes.size()), &out);
  return out;
}

std::vector<TranscriptEvent> Transcriber::flush() {
  TranscriberStep out;
  prefix_if_first(&out);
  const LmConfig& c = model_.config();
  const double delay = c.stt_config ? c.stt_config->audio_delay_seconds
                                    : double(c.effective_asr_delay_in_tokens()) / frame_rate_;
  silence(int(std::ceil((delay + 1.0) * frame_rate_)), &out);
  emit_words(words_.flush(), asr_.steps(), &out.events);
  return std::move(out.events);
}

}  // namespace kyutai
