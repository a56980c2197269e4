#include "session/tts_generate.h"

#include <cmath>

#include "core/error.h"

namespace kyutai {

TtsGenerateOptions TtsGenerateOptions::sampling(double temp, uint64_t seed) {
  TtsGenerateOptions o;
  o.text = {true, float(temp), 25};
  o.audio = {true, float(temp), 250};
  o.seed = seed;
  return o;
}

TtsMachineConfig tts_machine_config(const LmConfig& c) {
  TtsMachineConfig m;
  m.ids.card = c.text_card + 1;
  m.second_stream_ahead = c.tts_config ? c.tts_config->second_stream_ahead : 0;
  return m;
}

TtsGenerator::TtsGenerator(const LmModel& model, const TtsStateMachine& machine, std::vector<TtsEntry> entries,
                           const LmConditions& conditions, const LmConditions* null_conditions,
                           TtsGenerateOptions options)
    : model_(model),
      machine_(machine),
      options_(options),
      real_cfg_(options.cfg_coef != 1.0),
      n_q_(options.n_q ? options.n_q : model.config().dep_q),
      delay_steps_(model.config().tts_config ? model.config().tts_config->delay_steps() : 0),
      rng_(options.seed) {
  validate(null_conditions);
  machine_state_ = machine_.new_state(std::move(entries));
  if (real_cfg_) {
    state_ = model_.new_state(&conditions);
    null_state_ = model_.new_state(null_conditions);
    return;
  }
  stages_ = std::make_unique<FrameStages>(model_, options_.seed, options_.text, options_.audio, &conditions);
  stages_->set_text_rule([this](int32_t predicted) { return feed_text(predicted); });
}

void TtsGenerator::validate(const LmConditions* null_conditions) const {
  const LmConfig& c = model_.config();
  if (!model_.depformer()) fail(ErrorCode::Unsupported, "TTS generation needs a Depformer (dep_q > 0)");
  if (!std::isfinite(options_.cfg_coef) || options_.cfg_coef <= 0 || options_.cfg_coef > 100)
    fail(ErrorCode::InvalidArgument, "cfg_coef must be in (0, 100], got ", options_.cfg_coef);
  if (real_cfg_ && c.conditioner("cfg"))
    fail(ErrorCode::InvalidArgument,
         "this model was trained with CFG distillation: pass cfg_coef through the 'cfg' "
         "condition (tts_condition_attributes) and keep the generation's cfg_coef at 1.0");
  if (real_cfg_ && !null_conditions)
    fail(ErrorCode::InvalidArgument, "real CFG (cfg_coef ", options_.cfg_coef, ") needs the null conditions");
  if (options_.max_gen_length < 1 || options_.final_padding < 0)
    fail(ErrorCode::InvalidArgument, "max_gen_length must be >= 1 and final_padding >= 0, got ",
         options_.max_gen_length, " and ", options_.final_padding);
  if (options_.n_q < 0 || options_.n_q > c.dep_q)
    fail(ErrorCode::InvalidArgument, "n_q must be 1..", c.dep_q, " (or 0 for all), got ", options_.n_q);
  if (machine_.config().ids.card != c.text_card + 1)
    fail(ErrorCode::InvalidArgument, "the state machine's card ", machine_.config().ids.card,
         " must be text_card + 1 = ", c.text_card + 1);
}

bool TtsGenerator::running() const {
  const auto& end = machine_state_.end_step;
  if (end && offset_ >= *end + delay_steps_ + options_.final_padding) return false;
  return offset_ < options_.max_gen_length;
}

void TtsGenerator::require_running() const {
  if (!running()) fail(ErrorCode::InvalidState, "TTS generation has ended (step ", offset_, ")");
}

int32_t TtsGenerator::feed_text(int32_t predicted) {
  open_.predicted_text = predicted;
  open_.fed_text = machine_.process(offset_, machine_state_, predicted);
  return open_.fed_text;
}

std::vector<int32_t> TtsGenerator::model_input(bool null_stream) const {
  const LmConfig& c = model_.config();
  const int t = offset_;
  std::vector<int32_t> in(c.num_codebooks());
  // The null stream sees no text after the initial step (Kyutai's cfg_is_no_text).
  in[0] = t == 0 ? c.text_initial_token() : null_stream ? -1 : text_history_[t - 1];
  for (int q = 0; q < c.n_q; ++q) in[1 + q] = t <= c.delays[1 + q] ? c.audio_initial_token() : audio_history_[t - 1][q];
  return in;
}

void TtsGenerator::run_depformer(int32_t text, const float* out, const float* out_null, std::vector<int32_t>& audio,
                                 TtsStepRecord& rec) {
  const int Q = n_q_, card = model_.config().card;
  state_.depformer.reset();
  null_state_.depformer.reset();
  std::vector<float> logits(card), null_logits(card);
  rec.depformer_input.resize(Q);
  int32_t prev = text;  // position 0 reads the fed (muxed) text token
  for (int k = 0; k < Q; ++k) {
    rec.depformer_input[k] = prev;
    model_.depformer_step(k, prev, out, state_, logits.data());
    if (options_.record) rec.depformer_logits.insert(rec.depformer_logits.end(), logits.begin(), logits.end());
    if (real_cfg_) {
      model_.depformer_step(k, prev, out_null, null_state_, null_logits.data());
      if (options_.record)
        rec.depformer_logits_null.insert(rec.depformer_logits_null.end(), null_logits.begin(), null_logits.end());
      const float coef = float(options_.cfg_coef);
      for (int i = 0; i < card; ++i) logits[i] = null_logits[i] + (logits[i] - null_logits[i]) * coef;
    }
    prev = audio[k] = sample_token(logits.data(), card, options_.audio, rng_);
  }
}

std::vector<int32_t> TtsGenerator::step() {
  if (real_cfg_) return step_real_cfg();
  begin();
  return run_local();
}

const FrameRequest& TtsGenerator::begin() {
  if (!stages_)
    fail(ErrorCode::Unsupported,
         "real CFG (a null-condition stream beside the conditioned one) runs in one call: step()");
  require_running();
  FrameRequest request;
  request.tokens = model_input(false);
  request.depformer = offset_ >= delay_steps_;  // before that the audio is all -1: no Depformer
  request.codebooks = n_q_;
  const FrameRequest& opened = stages_->begin(std::move(request));  // refused while a frame is open
  machine_at_begin_ = machine_state_;
  open_ = TtsStepRecord{};
  open_.model_input = opened.tokens;
  open_.depformer_ran = opened.depformer;
  return opened;
}

int32_t TtsGenerator::sample_text(const float* logits, int count) {
  if (!stages_) fail(ErrorCode::InvalidState, "sample_text: this generator is not staged (real CFG)");
  return stages_->sample_text(logits, count);
}

int32_t TtsGenerator::sample_audio(int codebook, const float* logits, int count) {
  if (!stages_) fail(ErrorCode::InvalidState, "sample_audio: this generator is not staged (real CFG)");
  return stages_->sample_audio(codebook, logits, count);
}

std::vector<int32_t> TtsGenerator::finish(FrameReply reply) {
  if (!stages_) fail(ErrorCode::InvalidState, "finish: this generator is not staged (real CFG)");
  FrameReply r = stages_->finish(std::move(reply));
  return complete(std::move(open_), std::move(r.audio_tokens));
}

std::vector<int32_t> TtsGenerator::run_local() {
  if (!stages_) fail(ErrorCode::InvalidState, "run_local: this generator is not staged (real CFG)");
  if (!stages_->open()) fail(ErrorCode::InvalidState, "run_local: no frame is open (begin one first)");
  machine_state_ = machine_at_begin_;  // a remote attempt may have run the machine already
  FrameReply r = stages_->run_local();
  if (options_.record) {
    open_.text_logits = stages_->local().text_logits;
    open_.depformer_logits = stages_->local().depformer_logits;
  }
  return complete(std::move(open_), std::move(r.audio_tokens));
}

std::vector<int32_t> TtsGenerator::step_real_cfg() {
  require_running();
  const LmConfig& c = model_.config();
  const int V = c.text_card_out, Q = n_q_;
  open_ = TtsStepRecord{};
  TtsStepRecord& rec = open_;
  std::vector<int32_t> input = model_input(false);
  std::vector<float> out(c.dim), logits(V), out_null(c.dim), logits_null(V);
  model_.step(input.data(), state_, out.data(), logits.data());
  rec.model_input = input;
  rec.text_logits = logits;
  std::vector<int32_t> null_input = model_input(true);
  model_.step(null_input.data(), null_state_, out_null.data(), logits_null.data());
  rec.model_input.insert(rec.model_input.end(), null_input.begin(), null_input.end());
  rec.text_logits.insert(rec.text_logits.end(), logits_null.begin(), logits_null.end());
  // The text token is the conditioned stream's, turned into the fed token before the Depformer.
  feed_text(sample_token(logits.data(), V, options_.text, rng_));
  std::vector<int32_t> audio(Q, -1);
  rec.depformer_ran = offset_ >= delay_steps_;  // before that the audio is all -1: no Depformer
  if (rec.depformer_ran) run_depformer(rec.fed_text, out.data(), out_null.data(), audio, rec);
  return complete(std::move(open_), std::move(audio));
}

std::vector<int32_t> TtsGenerator::complete(TtsStepRecord rec, std::vector<int32_t> audio) {
  const LmConfig& c = model_.config();
  const int t = offset_, Q = n_q_;
  if (rec.depformer_ran && rec.depformer_input.empty()) {  // the staged path: position k read token k - 1
    rec.depformer_input.assign(1, rec.fed_text);
    rec.depformer_input.insert(rec.depformer_input.end(), audio.begin(), audio.end() - 1);
  }
  audio.resize(Q, -1);
  for (int q = 0; q < Q; ++q)
    if (t < c.delays[1 + q] + delay_steps_) audio[q] = -1;
  // Audio codebooks beyond n_q are never generated: -1.
  std::vector<int32_t> kept(c.n_q, -1);
  std::copy(audio.begin(), audio.end(), kept.begin());
  text_history_.push_back(rec.fed_text);
  audio_history_.push_back(std::move(kept));
  if (options_.record) records_.push_back(std::move(rec));
  ++offset_;

  const int max_delay = c.max_delay();
  if (t < max_delay) return {};
  std::vector<int32_t> frame(1 + Q);
  frame[0] = text_history_[t - max_delay + c.delays[0]];
  for (int q = 0; q < Q; ++q) frame[1 + q] = audio_history_[t - max_delay + c.delays[1 + q]][q];
  return frame;
}

TtsResult tts_generate(const LmModel& model, const TtsStateMachine& machine, std::vector<TtsEntry> entries,
                       const LmConditions& conditions, const LmConditions* null_conditions,
                       const TtsGenerateOptions& options,
                       const std::function<void(const std::vector<int32_t>&)>& on_frame) {
  TtsGenerator gen(model, machine, std::move(entries), conditions, null_conditions, options);
  TtsResult result;
  while (gen.running()) {
    std::vector<int32_t> frame = gen.step();
    if (frame.empty()) continue;
    if (on_frame) on_frame(frame);
    result.frames.push_back(std::move(frame));
  }
  result.end_step = gen.machine_state().end_step;
  result.consumption_times = gen.machine_state().consumption_times;
  result.transcript = gen.machine_state().transcript;
  result.steps = gen.records();
  return result;
}

}  // namespace kyutai
