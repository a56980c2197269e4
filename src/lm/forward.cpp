#include "lm/forward.h"

#include "core/error.h"

namespace kyutai {

namespace {
bool samples(const SamplingParams& p) { return p.use_sampling && p.temperature > 0.0f; }
}  // namespace

int kv_row_floats(const LmModel& model) {
  TransformerConfig t = model.config().main_transformer();
  return t.num_layers * 2 * t.num_kv_heads() * t.head_dim();
}

void append_kv_rows(const LmModel& model, LmState& state, const float* rows) {
  TransformerConfig t = model.config().main_transformer();
  const int KH = t.num_kv_heads(), dh = t.head_dim();
  for (size_t l = 0; l < state.transformer.layers.size(); ++l) {
    KvCache& cache = state.transformer.layers[l];
    const float* k = rows + l * 2 * KH * dh;
    const float* v = k + KH * dh;
    const int slot = int(cache.end % cache.capacity);
    for (int h = 0; h < KH; ++h) cache.write(h, slot, k + h * dh, v + h * dh);
    cache.positions[slot] = cache.end;
    cache.end += 1;
  }
  state.transformer.offset += 1;
}

FrameStages::FrameStages(const LmModel& model, uint64_t seed, SamplingParams text, SamplingParams audio,
                         const LmConditions* conditions)
    : model_(model),
      text_params_(text),
      audio_params_(audio),
      seed_(seed),
      rng_(seed),
      state_(model.new_state(conditions)) {}

void FrameStages::reset() {
  state_.reset();
  rng_.reseed(seed_);
  mirror_ = true;
  open_ = false;
}

void FrameStages::require_open(const char* what) const {
  if (!open_) fail(ErrorCode::InvalidState, what, ": no frame is open (begin one first)");
}

const FrameRequest& FrameStages::begin(FrameRequest request) {
  const LmConfig& c = model_.config();
  if (open_) fail(ErrorCode::InvalidState, "a frame is already open: finish it (or run it locally) first");
  if (int(request.tokens.size()) != c.num_codebooks())
    fail(ErrorCode::Internal, "frame request: expected ", c.num_codebooks(), " tokens, got ", request.tokens.size());
  request.depformer = request.depformer && c.dep_q > 0;
  if (request.codebooks < 0 || request.codebooks > c.dep_q)
    fail(ErrorCode::Internal, "frame request: ", request.codebooks, " Depformer positions, expected 0..", c.dep_q);
  request.codebooks = !request.depformer ? 0 : request.codebooks ? request.codebooks : c.dep_q;
  request.vad = request.vad && c.extra_heads_num_heads > 0;
  request.sample_text = !request.forced_text && (samples(text_params_) || text_rule_);
  request.sample_audio = request.depformer && samples(audio_params_);
  request_ = std::move(request);
  frame_start_rng_ = rng_;
  sampled_text_.reset();
  sampled_audio_.clear();
  open_ = true;
  return request_;
}

int32_t FrameStages::sample_text(const float* logits, int count) {
  require_open("sample_text");
  const int V = model_.config().text_card_out;
  if (!request_.sample_text)
    fail(ErrorCode::InvalidState, "this frame's text token is not sampled (greedy or forced): no text logits expected");
  if (sampled_text_) fail(ErrorCode::InvalidState, "this frame's text token was already sampled");
  if (count != V) fail(ErrorCode::InvalidArgument, "expected ", V, " text logits, got ", count);
  const int32_t token = sample_token(logits, count, text_params_, rng_);
  sampled_text_ = text_rule_ ? text_rule_(token) : token;
  return *sampled_text_;
}

int32_t FrameStages::sample_audio(int codebook, const float* logits, int count) {
  require_open("sample_audio");
  const int card = model_.config().card;
  if (!request_.sample_audio)
    fail(ErrorCode::InvalidState,
         "this frame's audio tokens are not sampled (greedy or no Depformer): no logits expected");
  if (request_.sample_text && !sampled_text_) fail(ErrorCode::InvalidState, "sample the text token before the audio");
  if (codebook != int(sampled_audio_.size()))
    fail(ErrorCode::InvalidState, "expected the logits of codebook ", sampled_audio_.size(), ", got codebook ",
         codebook);
  if (count != card) fail(ErrorCode::InvalidArgument, "expected ", card, " audio logits, got ", count);
  sampled_audio_.push_back(sample_token(logits, count, audio_params_, rng_));
  return sampled_audio_.back();
}

FrameReply FrameStages::finish(FrameReply reply) {
  require_open("finish");
  const LmConfig& c = model_.config();
  // The text token: forced, sampled here, or the device's argmax.
  if (request_.sample_text && !sampled_text_) fail(ErrorCode::InvalidState, "the text token was never sampled");
  std::optional<int32_t> known = request_.forced_text ? request_.forced_text : sampled_text_;
  if (known && reply.text_token != *known)
    fail(ErrorCode::InvalidArgument, "reply text token ", reply.text_token, " differs from this frame's ", *known);
  if (!known && (reply.text_token < 0 || reply.text_token >= c.text_card_out))
    fail(ErrorCode::InvalidArgument, "reply text token ", reply.text_token, " is out of range (expected 0..",
         c.text_card_out - 1, ")");
  const int Q = request_.codebooks;
  if (int(reply.audio_tokens.size()) != Q)
    fail(ErrorCode::InvalidArgument, "expected ", Q, " audio tokens in the reply, got ", reply.audio_tokens.size());
  if (request_.sample_audio && int(sampled_audio_.size()) != Q)
    fail(ErrorCode::InvalidState, "only ", sampled_audio_.size(), " of ", Q, " codebooks were sampled");
  for (int k = 0; k < Q; ++k) {
    const int32_t t = reply.audio_tokens[k];
    if (request_.sample_audio ? t != sampled_audio_[k] : (t < 0 || t >= c.card))
      fail(ErrorCode::InvalidArgument, "reply audio token ", t, " of codebook ", k,
           request_.sample_audio ? " differs from the sampled one" : " is out of range");
  }
  const size_t vad = request_.vad ? size_t(c.extra_heads_num_heads) * c.extra_heads_dim : 0;
  if (reply.vad.size() != vad)
    fail(ErrorCode::InvalidArgument, "expected ", vad, " VAD values in the reply, got ", reply.vad.size());
  const size_t rows = size_t(kv_row_floats(model_));
  if (!reply.kv_rows.empty() && reply.kv_rows.size() != rows)
    fail(ErrorCode::InvalidArgument, "K/V mirror: expected ", rows, " values, got ", reply.kv_rows.size());
  // Valid: now the state changes.
  if (reply.kv_rows.empty()) mirror_ = false;
  else if (mirror_) append_kv_rows(model_, state_, reply.kv_rows.data());
  close();
  return reply;
}

FrameReply FrameStages::run_local() {
  require_open("run_local");
  if (!mirror_)
    fail(ErrorCode::InvalidState,
         "this session keeps no WebAssembly mirror of its remote forward: the frame cannot run locally");
  const LmConfig& c = model_.config();
  rng_ = frame_start_rng_;  // a frame a remote forward began redraws the same numbers
  sampled_text_.reset();
  sampled_audio_.clear();
  local_.transformer_out.resize(c.dim);
  local_.text_logits.resize(c.text_card_out);
  model_.step(request_.tokens.data(), state_, local_.transformer_out.data(), local_.text_logits.data());
  FrameReply reply;
  if (request_.forced_text) reply.text_token = *request_.forced_text;
  else if (request_.sample_text) reply.text_token = sample_text(local_.text_logits.data(), c.text_card_out);
  else reply.text_token = argmax(local_.text_logits.data(), c.text_card_out);
  if (request_.vad) {
    reply.vad.resize(size_t(c.extra_heads_num_heads) * c.extra_heads_dim);
    model_.extra_heads(local_.transformer_out.data(), reply.vad.data());
  }
  const int Q = request_.codebooks;
  local_.depformer_logits.resize(size_t(Q) * c.card);
  if (Q > 0) state_.depformer.reset();
  int32_t prev = reply.text_token;
  for (int k = 0; k < Q; ++k) {
    float* logits = local_.depformer_logits.data() + size_t(k) * c.card;
    model_.depformer_step(k, prev, local_.transformer_out.data(), state_, logits);
    prev = request_.sample_audio ? sample_audio(k, logits, c.card) : argmax(logits, c.card);
    reply.audio_tokens.push_back(prev);
  }
  close();
  return reply;
}

}  // namespace kyutai
