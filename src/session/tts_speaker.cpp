#include "session/tts_speaker.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "text/tts_script.h"

namespace kyutai {
namespace {

// Whether text[at] ('<') may open a break tag: the text from there starts "<break" or is a
// prefix of it still growing. Other '<' are plain characters.
bool opens_break_tag(const std::string& text, size_t at) {
  static const std::string kTag = "<break";
  const size_t n = std::min(kTag.size(), text.size() - at);
  return text.compare(at, n, kTag, 0, n) == 0;
}

// Where the complete words of `text` end: after its last whitespace (Unicode, as Kyutai's
// split) outside a `<break .../>` tag (a tag holds a space and must reach the script whole).
// npos when no word is complete.
size_t complete_words_end(const std::string& text) {
  size_t end = std::string::npos;
  bool in_tag = false;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '<' && opens_break_tag(text, i)) in_tag = true;
    if (text[i] == '>') in_tag = false;
    const size_t space = whitespace_length(text, i);
    if (!in_tag && space) end = i + space;
    i += std::max<size_t>(1, space);
  }
  return end;
}

int non_empty_entries(const std::deque<TtsEntry>& entries) {
  return int(std::count_if(entries.begin(), entries.end(), [](const TtsEntry& e) { return !e.tokens.empty(); }));
}

}  // namespace

TtsGenerateOptions TtsSpeaker::options_for(const LmModel& model, double cfg, TtsGenerateOptions generate) {
  if (!model.config().tts_config) fail(ErrorCode::Unsupported, "a speaker needs a TTS model (config.tts_config)");
  if (!std::isfinite(cfg)) fail(ErrorCode::InvalidArgument, "cfg must be a finite number, got ", cfg);
  // A distilled model takes cfg through its LUT and runs one stream; others mix a null stream.
  generate.cfg_coef = model.config().conditioner("cfg") ? 1.0 : cfg;
  return generate;
}

TtsSpeaker::TtsSpeaker(const LmModel& model, const SentencePiece& tokenizer, const Voice& voice, double cfg,
                       TtsGenerateOptions generate, const Mimi* codec)
    : model_(model), tokenizer_(tokenizer), codec_(codec) {
  TtsGenerateOptions options = options_for(model, cfg, generate);
  const int n_q = options.n_q ? options.n_q : model.config().dep_q;
  validate_codec(n_q);
  const bool distilled = model.config().conditioner("cfg") != nullptr;
  ConditionAttributes attributes = tts_condition_attributes(model.config(), {voice},
                                                            distilled ? std::optional<double>(cfg) : std::nullopt);
  conditions_ = std::make_unique<LmConditions>(model.prepare_conditions(attributes));
  if (options.cfg_coef != 1.0)
    null_conditions_ = std::make_unique<LmConditions>(model.prepare_conditions(null_condition_attributes(attributes)));
  machine_ = std::make_unique<TtsStateMachine>(tts_machine_config(model.config()));
  generator_ = std::make_unique<TtsGenerator>(model, *machine_, std::vector<TtsEntry>{}, *conditions_,
                                              null_conditions_.get(), options);
  if (codec_) codec_state_ = codec_->new_state(n_q);
}

void TtsSpeaker::validate_codec(int n_q) const {
  if (!codec_) return;
  if (codec_->num_codebooks() < n_q)
    fail(ErrorCode::InvalidArgument, "the codec decodes at most ", codec_->num_codebooks(), " codebooks, the speaker ",
         "generates ", n_q, ": pass n_q <= ", codec_->num_codebooks());
  if (codec_->cardinality() != model_.config().card)
    fail(ErrorCode::InvalidArgument, "the codec's cardinality ", codec_->cardinality(),
         " differs from the model's card ", model_.config().card);
}

void TtsSpeaker::append_words(const std::string& text) {
  TtsScriptOptions options;
  options.previous_speaker = any_words_ ? 0 : -1;  // one turn, however the text was split
  std::vector<TtsEntry> entries = script_to_entries(tokenizer_, {text}, options);
  if (entries.empty()) return;
  any_words_ = any_words_ || std::any_of(entries.begin(), entries.end(), [](auto& e) { return !e.tokens.empty(); });
  auto& queue = generator_->machine_state().entries;
  queue.insert(queue.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
}

void TtsSpeaker::push_text(const std::string& text) {
  if (ended_) fail(ErrorCode::InvalidState, "push_text after end(): the script is closed");
  std::string candidate = pending_ + text;
  // A bad <break> is refused now, before any state changes, even when no whitespace follows
  // it yet: kept pending, it would make end() fail for good.
  split_script_turn(candidate);
  const size_t cut = complete_words_end(candidate);
  if (cut != std::string::npos) {
    append_words(candidate.substr(0, cut));
    candidate.erase(0, cut);
  }
  pending_ = std::move(candidate);
}

void TtsSpeaker::end() {
  if (ended_) return;
  append_words(pending_);
  pending_.clear();
  ended_ = true;
}

bool TtsSpeaker::ready() const {
  if (ended_) return true;
  const int ahead = machine_->config().second_stream_ahead;
  return non_empty_entries(generator_->machine_state().entries) > ahead;
}

bool TtsSpeaker::running() const { return generator_->running(); }

void TtsSpeaker::require_step() const {
  if (!running()) fail(ErrorCode::InvalidState, "the speaker has finished: no step left");
  if (!ready())
    fail(ErrorCode::InvalidState, "the speaker needs more text before its next step: push_text() more words or end()");
}

TtsSpeakerStep TtsSpeaker::step() {
  require_step();
  step_ = generator_->offset();
  return complete(generator_->step());
}

const FrameRequest& TtsSpeaker::begin() {
  require_step();
  const FrameRequest& request = generator_->begin();
  step_ = generator_->offset();
  return request;
}

TtsSpeakerStep TtsSpeaker::complete(std::vector<int32_t> frame) {
  TtsSpeakerStep out;
  out.step = step_;
  out.frame = std::move(frame);
  if (!out.frame.empty() && codec_ && frames_out_++ >= delay_steps()) {
    out.pcm.resize(size_t(codec_->frame_size()));
    codec_->decode_step(out.frame.data() + 1, *codec_state_, out.pcm.data());
  }
  const auto& transcript = generator_->machine_state().transcript;
  for (; words_reported_ < transcript.size(); ++words_reported_)
    out.words.push_back({transcript[words_reported_].first, transcript[words_reported_].second});
  return out;
}

}  // namespace kyutai
