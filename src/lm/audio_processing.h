// Multi-codebook audio token processing: one embedding table per audio codebook plus the
// text table, and the fusion of the streams into the transformer's input.
//
// Kyutai's LM sums: emb = sum_c emb.c(audio_c) + text_emb(text) (audio in codebook order,
// text last), then the sinusoidal positional term when the config asks for one. RoPE is not
// added to the input: the attention applies `positional()` to queries and keys.
//
// Three other strategies are available for experiments (never used by Kyutai checkpoints,
// selected by the kyutai-wasm config key "audio_fusion"):
//   concat          text embeddings then the audio sum along the sequence axis: [B, 2T, D];
//   interleave      text_0, audio_0, text_1, audio_1, ...: [B, 2T, D];
//   cross_attention text_t + o(attn(q(text_t), k/v(audio_j), j <= t, audio present at j)),
//                   with its own weights fusion.cross_attention.{q,k,v,o}.weight [D, D].
// For concat and interleave the mask marks positions that carry a token (text != -1, or at
// least one audio codebook != -1 at that step).
#pragma once

#include <cstdint>
#include <vector>

#include "lm/lm_config.h"
#include "lm/scaled_embedding.h"
#include "lm/tokens.h"
#include "nn/transformer.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

struct FusedEmbeddings {
  int batch = 0;
  int length = 0;  // T for sum / cross-attention, 2T for concat / interleave
  int dim = 0;
  std::vector<float> values;  // [batch, length, dim]
  std::vector<uint8_t> mask;  // [batch, length]: 1 where the position carries a token
};

class AudioProcessing {
 public:
  explicit AudioProcessing(const LmConfig& config);
  void declare_weights(WeightLoader& loader);

  int n_q() const { return n_q_; }
  int dim() const { return dim_; }
  const PositionalEncoding& positional() const { return positional_; }

  // Checks codebook count, shapes, dtypes and token ranges; returns B and T.
  void validate(const MultistreamInput& input, int* batch, int* time) const;
  // Kyutai's embedding sum, [B, T, dim], no positional term.
  std::vector<float> embedding_sum(const MultistreamInput& input, ThreadPool* pool, int* batch = nullptr,
                                   int* time = nullptr) const;
  // One step: tokens[1 + n_q] (text first); -1 for absent streams. Validated here.
  void embed_step(const int32_t* tokens, float* out, ThreadPool* pool) const;
  // The transformer input under the configured fusion strategy, with the sinusoidal term
  // (when configured) at positions offset, offset + 1, ...
  FusedEmbeddings fuse(const MultistreamInput& input, int64_t offset, ThreadPool* pool) const;

  size_t weight_bytes() const;

 private:
  void check_token(int stream, int b, int t, int32_t token) const;
  void sum_one(const int32_t* tokens, float* out, ThreadPool* pool) const;
  void cross_attend(const float* text, const float* audio, const uint8_t* audio_present, int T, float* out,
                    ThreadPool* pool) const;

  int n_q_, dim_, audio_dim_, num_heads_;
  int64_t widest_row_;  // widest per-position buffer of a whole-sequence pass (validate's limit)
  FusionKind fusion_;
  PositionalEncoding positional_;
  std::vector<ScaledEmbedding> audio_;  // emb.{c}
  ScaledEmbedding text_;                // text_emb
  Linear audio_proj_;                   // only when audio tables are narrower/wider than dim
  Linear cross_q_, cross_k_, cross_v_, cross_o_;
};

}  // namespace kyutai
