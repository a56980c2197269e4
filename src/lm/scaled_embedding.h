// Kyutai's ScaledEmbedding (moshi.models.lm_utils): a table lookup where token -1 gives an
// exact zero, optionally followed by a LayerNorm (norm_emb), a low-rank projection
// (depformer_low_rank_embeddings) or the demultiplexing of two text streams
// (demux_second_stream: token = (second + 1) * rows + first).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/embedding_table.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

struct ScaledEmbeddingSpec {
  int rows = 0;     // card + 1 or text_card + 1
  int out_dim = 0;  // width of the result
  bool norm = false;
  int low_rank = 0;  // 0: none
  bool demux = false;
};

class ScaledEmbedding {
 public:
  ScaledEmbedding() = default;
  explicit ScaledEmbedding(ScaledEmbeddingSpec spec) : spec_(spec) {}

  void declare_weights(WeightLoader& loader, const std::string& name);
  const ScaledEmbeddingSpec& spec() const { return spec_; }
  const EmbeddingTable& table() const { return table_; }
  // A plain table lookup: the multi-codebook gather-sum kernel can handle it directly.
  bool is_plain() const { return !spec_.norm && !spec_.low_rank && !spec_.demux; }
  // Largest token id accepted (tokens must be -1 or in [0, max_token]).
  int64_t max_token() const;

  // out[out_dim] += embedding(token) (nothing for -1). Token must be validated by the caller.
  void accumulate(int32_t token, float* out, ThreadPool* pool) const;

 private:
  ScaledEmbeddingSpec spec_;
  EmbeddingTable table_;
  Norm norm_;
  Linear low_rank_, out1_, out2_;
};

}  // namespace kyutai
