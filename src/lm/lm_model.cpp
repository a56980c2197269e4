#include "lm/lm_model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/safetensors.h"
#include "kernels/ops.h"
#include "lm/delays.h"

namespace kyutai {

LmModel::LmModel(LmConfig config, const LoadOptions& options)
    : config_(std::move(config)),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.threads))),
      kv_format_(options.kv_cache),
      audio_(config_),
      conditioners_(config_),
      transformer_(config_.main_transformer()) {
  if (config_.dep_q > 0) depformer_ = std::make_unique<Depformer>(config_);
  extra_heads_.resize(config_.extra_heads_num_heads);
}

void LmModel::declare_weights(WeightLoader& loader) {
  NormKind norm;
  parse_norm_kind(config_.norm, &norm);
  audio_.declare_weights(loader);
  conditioners_.declare_weights(loader);
  transformer_.declare_weights(loader, "transformer.");
  loader.norm("out_norm", norm, config_.dim, &out_norm_);
  loader.linear("text_linear", config_.text_card_out, config_.dim, &text_linear_, config_.bias_proj);
  for (size_t h = 0; h < extra_heads_.size(); ++h)
    loader.linear("extra_heads." + std::to_string(h), config_.extra_heads_dim, config_.dim, &extra_heads_[h]);
  if (depformer_) {
    depformer_->declare_weights(loader);
  } else if (!config_.depformer_multi_linear) {
    // Without a Depformer, LMModel still creates one unused depformer_in.0 in this case.
    loader.ignore("depformer_in.0.weight");
  }
}

size_t LmModel::weight_bytes() const {
  size_t n = audio_.weight_bytes() + transformer_.weight_bytes() + text_linear_.weight.bytes();
  for (const auto& h : extra_heads_) n += h.weight.bytes();
  if (depformer_) n += depformer_->weight_bytes();
  return n;
}

void LmModel::extra_heads(const float* transformer_out, float* probs, float* logits) const {
  const int E = config_.extra_heads_dim;
  for (size_t h = 0; h < extra_heads_.size(); ++h) {
    float* p = probs + h * E;
    extra_heads_[h].forward(transformer_out, 1, p, pool_.get());
    if (logits) std::copy(p, p + E, logits + h * E);
    softmax(p, E);
  }
}

void LmModel::check_conditions(const LmConditions* c) const {
  const int D = config_.dim;
  if (!conditioned()) {
    if (c && (!c->sum.empty() || c->cross_length))
      fail(ErrorCode::InvalidArgument, "this model has no conditioners: it takes no conditions");
    return;
  }
  if (!c) fail(ErrorCode::InvalidArgument, "this model is conditioned (Kyutai's TTS): conditions are required");
  if (c->sum.size() != (config_.fuser.sum.empty() ? 0u : size_t(D)))
    fail(ErrorCode::InvalidArgument, "the sum condition has ", c->sum.size(), " values, expected ",
         config_.fuser.sum.empty() ? 0 : D);
  if (config_.cross_attention && (c->cross_length <= 0 || c->cross.size() != size_t(c->cross_length) * D))
    fail(ErrorCode::InvalidArgument, "the cross-attention source must be [length >= 1, ", D, "], got length ",
         c->cross_length, " with ", c->cross.size(), " values");
}

TextForward LmModel::forward_text(const MultistreamInput& input, bool keep_layers,
                                  const LmConditions* conditions) const {
  check_conditions(conditions);
  TextForward out;
  out.embedding_sum = audio_.embedding_sum(input, pool_.get(), &out.batch, &out.time);
  const int B = out.batch, T = out.time, D = config_.dim, V = config_.text_card_out;
  const int H = config_.extra_heads_num_heads, E = config_.extra_heads_dim;
  out.transformer_out = out.embedding_sum;
  out.text_logits.resize(size_t(B) * T * V);
  out.extra_heads_logits.resize(size_t(H) * B * T * E);
  out.extra_heads_probs.resize(size_t(H) * B * T * E);
  std::vector<float> probs(size_t(H) * E), logits(size_t(H) * E);
  for (int b = 0; b < B; ++b) {
    float* x = out.transformer_out.data() + size_t(b) * T * D;
    // Non-streaming: every position of the sequence is visible, within the context window.
    TransformerState state = transformer_.new_state(std::max(T, 1));
    if (conditions && !conditions->sum.empty())
      for (int t = 0; t < T; ++t)
        for (int i = 0; i < D; ++i) x[size_t(t) * D + i] += conditions->sum[i];
    if (config_.cross_attention)
      transformer_.set_cross_source(conditions->cross.data(), conditions->cross_length, state, pool_.get());
    transformer_.forward(x, T, state, pool_.get(), keep_layers ? &out.layer_outputs : nullptr,
                         keep_layers ? &out.layer_updates : nullptr);
    out_norm_.forward(x, T, x);
    text_linear_.forward(x, T, out.text_logits.data() + size_t(b) * T * V, pool_.get());
    for (int t = 0; t < T; ++t) {
      extra_heads(x + size_t(t) * D, probs.data(), logits.data());
      for (int h = 0; h < H; ++h) {
        size_t dst = ((size_t(h) * B + b) * T + t) * E;
        std::copy(probs.begin() + h * E, probs.begin() + (h + 1) * E, out.extra_heads_probs.begin() + dst);
        std::copy(logits.begin() + h * E, logits.begin() + (h + 1) * E, out.extra_heads_logits.begin() + dst);
      }
    }
  }
  return out;
}

LmForward LmModel::forward(const MultistreamInput& codes, bool keep, const LmConditions* conditions) const {
  if (!depformer_)
    fail(ErrorCode::Unsupported, "this model has no Depformer (dep_q = 0): use forward_asr for text logits");
  int B, T;
  audio_.validate(codes, &B, &T);
  LmForward out;
  out.batch = B;
  out.time = T;
  MultistreamInput model_input = delay_codes(codes, config_);
  out.text = forward_text(model_input, keep, conditions);
  int tb, tt;
  std::vector<int32_t> dep_tokens = depformer_tokens(codes, config_, &tb, &tt);
  const int Q = config_.dep_q, card = config_.card, D = config_.dim;
  out.audio_logits.resize(size_t(B) * Q * T * card);
  std::vector<int32_t> tokens(Q);
  std::vector<float> logits(size_t(Q) * card);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      for (int k = 0; k < Q; ++k) tokens[k] = dep_tokens[(size_t(b) * Q + k) * T + t];
      depformer_->forward_step(tokens.data(), out.text.transformer_out.data() + (size_t(b) * T + t) * D, logits.data(),
                               pool_.get(), keep ? &out.depformer_inputs : nullptr,
                               keep ? &out.depformer_layers : nullptr);
      for (int k = 0; k < Q; ++k)
        std::copy(logits.begin() + size_t(k) * card, logits.begin() + size_t(k + 1) * card,
                  out.audio_logits.begin() + ((size_t(b) * Q + k) * T + t) * card);
    }
  undelay_logits(out.audio_logits, config_, B, T, &out.logits, &out.mask);
  out.text_mask.assign(size_t(B) * T, 1);
  for (int b = 0; b < B; ++b) {
    std::vector<int32_t> dense = dense_codes(codes, config_.num_codebooks(), b, T);
    for (int t = 0; t < T; ++t) {
      if (dense[t] == -1) out.text_mask[size_t(b) * T + t] = 0;
      for (int k = 0; k < Q; ++k)
        if (dense[size_t(1 + k) * T + t] == -1) out.mask[(size_t(b) * Q + k) * T + t] = 0;
    }
  }
  return out;
}

void LmModel::for_each_streamed_matrix(const std::function<void(const PackedMatrix&)>& visit) const {
  transformer_.for_each_matrix(visit);
  visit(text_linear_.weight);
  for (const auto& h : extra_heads_) visit(h.weight);
  if (depformer_) depformer_->for_each_streamed_matrix(visit);
}

size_t LmModel::bytes_read_per_frame() const {
  size_t n = 0;
  for_each_streamed_matrix([&](const PackedMatrix& m) { n += m.bytes(); });
  return n;
}

LmState LmModel::new_state(const LmConditions* conditions) const {
  check_conditions(conditions);
  LmState s;
  s.transformer = transformer_.new_state(transformer_.streaming_capacity(), kv_format_);
  if (conditions) s.condition_sum = conditions->sum;
  if (config_.cross_attention)
    transformer_.set_cross_source(conditions->cross.data(), conditions->cross_length, s.transformer, pool_.get());
  if (depformer_) s.depformer = depformer_->new_state();
  return s;
}

void LmModel::step(const int32_t* tokens, LmState& state, float* transformer_out, float* text_logits) const {
  audio_.embed_step(tokens, transformer_out, pool_.get());
  for (size_t i = 0; i < state.condition_sum.size(); ++i) transformer_out[i] += state.condition_sum[i];
  transformer_.forward(transformer_out, 1, state.transformer, pool_.get());
  out_norm_.forward(transformer_out, 1, transformer_out);
  text_linear_.forward(transformer_out, 1, text_logits, pool_.get());
}

void LmModel::depformer_step(int k, int32_t token, const float* transformer_out, LmState& state, float* logits) const {
  if (!depformer_) fail(ErrorCode::Unsupported, "this model has no Depformer (dep_q = 0)");
  depformer_->step(k, token, transformer_out, state.depformer, logits, pool_.get());
}

LmLoader::LmLoader(LmConfig config, const LoadOptions& options)
    : model_(std::make_unique<LmModel>(std::move(config), options)), loader_(options, model_->pool()) {
  model_->declare_weights(loader_);
}

std::unique_ptr<LmModel> LmLoader::finish() {
  if (!model_) fail(ErrorCode::InvalidState, "LmLoader::finish called twice");
  loader_.finish();
  model_->set_tensors(loader_.directory());
  return std::move(model_);
}

std::unique_ptr<LmModel> load_lm(const LmConfig& config, const uint8_t* bytes, size_t size,
                                 const LoadOptions& options) {
  SafetensorsFile file(bytes, size);
  check_stored_layout(file.header());
  LmLoader loader(config, options);
  for (const TensorInfo& t : file.header().tensors) loader.add_tensor(t, file.tensor_data(t));
  return loader.finish();
}

}  // namespace kyutai
