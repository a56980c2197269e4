#include "lm/scaled_embedding.h"

#include <vector>

#include "nn/weight_loader.h"

namespace kyutai {

void ScaledEmbedding::declare_weights(WeightLoader& loader, const std::string& name) {
  const int width = spec_.low_rank ? spec_.low_rank : spec_.out_dim;
  loader.table(name + ".weight", spec_.rows, width, &table_);
  if (spec_.norm) loader.norm(name + ".norm", NormKind::LayerNorm, width, &norm_);
  if (spec_.low_rank) {
    // With demux the low-rank projection exists in the state dict but is never applied.
    if (spec_.demux) loader.ignore(name + ".low_rank.weight");
    else loader.linear(name + ".low_rank", spec_.out_dim, spec_.low_rank, &low_rank_);
  }
  if (spec_.demux) {
    loader.linear(name + ".out1", spec_.out_dim, width, &out1_);
    loader.linear(name + ".out2", spec_.out_dim, width, &out2_);
  }
}

int64_t ScaledEmbedding::max_token() const {
  if (spec_.demux) return int64_t(spec_.rows) * (spec_.rows + 1) - 1;
  return spec_.rows - 1;
}

void ScaledEmbedding::accumulate(int32_t token, float* out, ThreadPool* pool) const {
  if (token == -1) return;
  const int width = table_.width;
  std::vector<float> row(width), proj(spec_.out_dim);
  if (spec_.demux) {
    int first = int(token % spec_.rows);
    int second = int(token / spec_.rows) - 1;
    table_.row(first, row.data());
    out1_.forward(row.data(), 1, proj.data(), pool);
    for (int i = 0; i < spec_.out_dim; ++i) out[i] += proj[i];
    if (second >= 0) {
      table_.row(second, row.data());
      out2_.forward(row.data(), 1, proj.data(), pool);
      for (int i = 0; i < spec_.out_dim; ++i) out[i] += proj[i];
    }
    return;
  }
  table_.row(token, row.data());
  if (spec_.norm) norm_.forward(row.data(), 1, row.data());
  if (spec_.low_rank) {
    low_rank_.forward(row.data(), 1, proj.data(), pool);
    for (int i = 0; i < spec_.out_dim; ++i) out[i] += proj[i];
  } else {
    for (int i = 0; i < width; ++i) out[i] += row[i];
  }
}

}  // namespace kyutai
