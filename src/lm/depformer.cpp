#include "lm/depformer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "nn/weight_loader.h"

namespace kyutai {

Depformer::Depformer(const LmConfig& c)
    : config_(c), dep_q_(c.dep_q), dim_(c.depformer_dim), card_(c.card), transformer_(c.depformer_transformer()) {
  const int low_rank = c.depformer_low_rank_embeddings.value_or(0);
  text_emb_ = ScaledEmbedding({c.text_card + 1, dim_, c.norm_emb, low_rank, c.demux_second_stream});
  for (int k = 0; k + 1 < dep_q_; ++k)
    emb_.emplace_back(ScaledEmbeddingSpec{c.card + 1, dim_, c.norm_emb, low_rank, false});
  in_.resize(c.depformer_weight_sets());
  norms_.resize(c.depformer_norm ? dep_q_ : 0);
  linears_.resize(dep_q_);
}

void Depformer::declare_weights(WeightLoader& loader) {
  for (size_t j = 0; j < in_.size(); ++j)
    loader.linear("depformer_in." + std::to_string(j), dim_, config_.dim, &in_[j]);
  text_emb_.declare_weights(loader, "depformer_text_emb");
  for (size_t k = 0; k < emb_.size(); ++k) emb_[k].declare_weights(loader, "depformer_emb." + std::to_string(k));
  transformer_.declare_weights(loader, "depformer.");
  if (config_.depformer_norm) {
    NormKind kind;
    parse_norm_kind(*config_.depformer_norm, &kind);
    for (int k = 0; k < dep_q_; ++k) loader.norm("depformer_norms." + std::to_string(k), kind, dim_, &norms_[k]);
  }
  for (int k = 0; k < dep_q_; ++k)
    loader.linear("linears." + std::to_string(k), card_, dim_, &linears_[k], config_.bias_proj);
}

size_t Depformer::weight_bytes() const {
  size_t n = transformer_.weight_bytes() + text_emb_.table().bytes();
  for (const auto& e : emb_) n += e.table().bytes();
  for (const auto* v : {&in_, &linears_})
    for (const auto& l : *v) n += l.weight.bytes();
  return n;
}

void Depformer::for_each_streamed_matrix(const std::function<void(const PackedMatrix&)>& visit) const {
  transformer_.for_each_matrix(visit);
  for (const auto* v : {&in_, &linears_})
    for (const auto& l : *v) visit(l.weight);
}

size_t Depformer::streamed_bytes() const {
  size_t n = 0;
  for_each_streamed_matrix([&](const PackedMatrix& m) { n += m.bytes(); });
  return n;
}

DepformerState Depformer::new_state() const {
  DepformerState s;
  s.transformer = transformer_.new_state(transformer_.streaming_capacity());
  return s;
}

void Depformer::check_token(int k, int32_t token) const {
  if (token != -1 && (token < 0 || token > embedding(k).max_token()))
    fail(ErrorCode::InvalidArgument, "Depformer position ", k, ": token ", token,
         " is out of range (expected -1 or 0..", embedding(k).max_token(), ")");
}

void Depformer::input(int k, int32_t token, const float* transformer_out, DepformerProjection& cache, float* out,
                      ThreadPool* pool) const {
  check_token(k, token);
  const int set = config_.depformer_in_index(k);
  const size_t lm_dim = size_t(config_.dim);
  if (cache.set != set ||
      std::memcmp(cache.source.data(), transformer_out, lm_dim * sizeof(float)) != 0) {  // bytes: NaN too
    cache.source.assign(transformer_out, transformer_out + lm_dim);
    cache.projected.resize(dim_);
    in_[set].forward(transformer_out, 1, cache.projected.data(), pool);
    cache.set = set;
  }
  std::copy(cache.projected.begin(), cache.projected.end(), out);
  embedding(k).accumulate(token, out, pool);
}

void Depformer::head(int k, const float* x, float* logits, ThreadPool* pool) const {
  if (norms_.empty()) {
    linears_[k].forward(x, 1, logits, pool);
    return;
  }
  std::vector<float> normed(dim_);
  norms_[k].forward(x, 1, normed.data());
  linears_[k].forward(normed.data(), 1, logits, pool);
}

void Depformer::step(int k, int32_t token, const float* transformer_out, DepformerState& state, float* logits,
                     ThreadPool* pool) const {
  if (state.transformer.offset != k)
    fail(ErrorCode::InvalidState, "Depformer step for position ", k, " but the state is at position ",
         state.transformer.offset);
  std::vector<float> x(dim_);
  input(k, token, transformer_out, state.projection, x.data(), pool);
  transformer_.forward(x.data(), 1, state.transformer, pool);
  head(k, x.data(), logits, pool);
}

void Depformer::forward_step(const int32_t* tokens, const float* transformer_out, float* logits, ThreadPool* pool,
                             std::vector<float>* inputs, LayerObserver* layers) const {
  if (config_.depformer_norm && is_rms([&] {
        NormKind k;
        parse_norm_kind(*config_.depformer_norm, &k);
        return k;
      }()))
    fail(ErrorCode::Unsupported, "depformer_norm '", *config_.depformer_norm,
         "' cannot run teacher-forced: Kyutai's LMModel.forward fails with "
         "\"AssertionError: RMSNorm expects 3D inputs\" (streaming generation works)");
  std::vector<float> x(size_t(dep_q_) * dim_);
  DepformerProjection projection;
  for (int k = 0; k < dep_q_; ++k) input(k, tokens[k], transformer_out, projection, x.data() + size_t(k) * dim_, pool);
  if (inputs) inputs->insert(inputs->end(), x.begin(), x.end());
  TransformerState state = transformer_.new_state(dep_q_);
  transformer_.forward(x.data(), dep_q_, state, pool, layers);
  for (int k = 0; k < dep_q_; ++k) head(k, x.data() + size_t(k) * dim_, logits + size_t(k) * card_, pool);
}

}  // namespace kyutai
