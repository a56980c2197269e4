// The Depformer: a small transformer run over the codebook positions of one time step,
// predicting audio codebook k from the temporal transformer's output and the token of
// position k - 1 (position 0 reads the text token).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lm/lm_config.h"
#include "lm/scaled_embedding.h"
#include "nn/transformer.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

// The last input projection of a time step. Positions that share a weight set
// (depformer_weights_per_step_schedule) project the same LM output with the same matrix, so the
// product is computed once and reused while both match.
struct DepformerProjection {
  int set = -1;                  // depformer_in index of `projected`; -1: none
  std::vector<float> source;     // the LM output it projected
  std::vector<float> projected;  // [depformer_dim]
  size_t bytes() const { return (source.capacity() + projected.capacity()) * sizeof(float); }
};

// One time step's Depformer state: the KV cache over positions, and the last input projection.
struct DepformerState {
  TransformerState transformer;
  DepformerProjection projection;
  void reset() {
    transformer.reset();
    projection.set = -1;
  }
  size_t bytes() const { return transformer.bytes() + projection.bytes(); }
};

class Depformer {
 public:
  explicit Depformer(const LmConfig& config);
  void declare_weights(WeightLoader& loader);

  int positions() const { return dep_q_; }
  int card() const { return card_; }
  int64_t max_token(int position) const { return embedding(position).max_token(); }

  // Streaming over positions (reset at every time step): capacity = dep_q.
  DepformerState new_state() const;
  // Logits [card] of position `k` (= state.transformer.offset) given its input token.
  void step(int k, int32_t token, const float* transformer_out, DepformerState& state, float* logits,
            ThreadPool* pool) const;
  // All positions of one time step at once (teacher forcing): tokens[dep_q] -> logits
  // [dep_q, card]. `inputs` / `layers` receive intermediates when non-null.
  void forward_step(const int32_t* tokens, const float* transformer_out, float* logits, ThreadPool* pool,
                    std::vector<float>* inputs = nullptr, LayerObserver* layers = nullptr) const;
  size_t weight_bytes() const;
  // The matrices a frame reads, and their bytes (embedding tables are only gathered).
  void for_each_streamed_matrix(const std::function<void(const PackedMatrix&)>& visit) const;
  size_t streamed_bytes() const;

 private:
  const ScaledEmbedding& embedding(int position) const { return position == 0 ? text_emb_ : emb_[position - 1]; }
  void check_token(int k, int32_t token) const;
  // Position k's input: the (cached) projection of the LM output plus the token's embedding.
  void input(int k, int32_t token, const float* transformer_out, DepformerProjection& cache, float* out,
             ThreadPool* pool) const;
  void head(int k, const float* x, float* logits, ThreadPool* pool) const;

  const LmConfig& config_;
  int dep_q_, dim_, card_;
  std::vector<Linear> in_;            // depformer_in.{j}
  ScaledEmbedding text_emb_;          // depformer_text_emb
  std::vector<ScaledEmbedding> emb_;  // depformer_emb.{k}
  Transformer transformer_;
  std::vector<Norm> norms_;      // depformer_norms.{k} (identity when absent)
  std::vector<Linear> linears_;  // linears.{k}
};

}  // namespace kyutai
