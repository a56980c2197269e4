// Mimi's split residual vector quantizer (moshi.quantization.SplitResidualVectorQuantizer):
// `rvq_first` holds the semantic codebook(s), `rvq_rest` the acoustic ones. Both quantize the
// same latent, each through its own 1x1 input projection, with nearest-centroid search and
// residual subtraction inside each RVQ; decoding sums each RVQ's centroids and adds the two
// output projections. Latents are time-major ([frames][channels]); codes are [codebook][frame].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codec/codebook.h"
#include "codec/conv.h"
#include "codec/mimi_config.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

// One ResidualVectorQuantizer with its projections.
class ResidualVq {
 public:
  ResidualVq() = default;
  ResidualVq(int codebooks, int bins, int dimension, int input_dimension, int output_dimension, std::string what);

  void declare_weights(WeightLoader& loader, const std::string& prefix);  // e.g. "quantizer.rvq_first."
  // Centroids = embedding_sum / max(cluster_usage, 1e-5), as Kyutai's EuclideanCodebook.
  void prepare();

  int codebooks() const { return codebooks_; }
  // latent [frames][input_dimension] -> codes[k * code_stride + t] for k < codebooks.
  void encode(const float* latent, int frames, int codebooks, int32_t* codes, int code_stride, ThreadPool* pool) const;
  // Adds output_proj(sum of centroids) to out [frames][output_dimension].
  void decode_add(const int32_t* codes, int code_stride, int codebooks, int frames, float* out, ThreadPool* pool) const;
  // out[d] += sign * centroid `code` of codebook k, for d < dimension.
  void add_centroid(int k, int code, float sign, float* out) const;

 private:
  int codebooks_ = 0, bins_ = 0, dimension_ = 0;
  std::string what_;
  Conv1d input_proj_, output_proj_;
  std::vector<std::vector<float>> embedding_sum_, cluster_usage_, initialized_;  // as loaded
  std::vector<Codebook> centroids_;                                              // one per codebook, after prepare()
};

class SplitRvq {
 public:
  explicit SplitRvq(const QuantizerConfig& config);
  void declare_weights(WeightLoader& loader, const std::string& prefix);  // "quantizer."
  void prepare();

  int total_codebooks() const { return first_.codebooks() + rest_.codebooks(); }
  int semantic_codebooks() const { return first_.codebooks(); }
  int bins() const { return bins_; }
  // Throws unless semantic_codebooks() <= codebooks <= total_codebooks().
  void check_codebooks(int codebooks) const;

  // latent [frames][input_dimension] -> codes[k * code_stride + t], k < codebooks.
  void encode(const float* latent, int frames, int codebooks, int32_t* codes, int code_stride, ThreadPool* pool) const;
  // codes (validated by the caller) -> latent [frames][output_dimension].
  void decode(const int32_t* codes, int code_stride, int codebooks, int frames, float* latent, ThreadPool* pool) const;

 private:
  int bins_ = 0, output_dimension_ = 0;
  ResidualVq first_, rest_;
};

}  // namespace kyutai
