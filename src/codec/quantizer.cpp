#include "codec/quantizer.h"

#include <algorithm>

#include "core/error.h"
#include "nn/weight_loader.h"

namespace kyutai {

namespace {

// Kyutai's EuclideanCodebook epsilon: usage is clamped before dividing.
constexpr float kUsageEpsilon = 1e-5f;

Conv1d projection(int in, int out, const std::string& what) {
  ConvShape s;
  s.in_channels = in;
  s.out_channels = out;
  return Conv1d(s, /*bias=*/false, PadMode::Constant, what);
}

}  // namespace

ResidualVq::ResidualVq(int codebooks, int bins, int dimension, int input_dimension, int output_dimension,
                       std::string what)
    : codebooks_(codebooks),
      bins_(bins),
      dimension_(dimension),
      what_(std::move(what)),
      input_proj_(projection(input_dimension, dimension, what_ + ".input_proj")),
      output_proj_(projection(dimension, output_dimension, what_ + ".output_proj")) {
  embedding_sum_.resize(codebooks);
  cluster_usage_.resize(codebooks);
  initialized_.resize(codebooks);
}

void ResidualVq::declare_weights(WeightLoader& loader, const std::string& prefix) {
  input_proj_.declare_weights(loader, prefix + "input_proj");
  output_proj_.declare_weights(loader, prefix + "output_proj");
  for (int k = 0; k < codebooks_; ++k) {
    std::string p = prefix + "vq.layers." + std::to_string(k) + "._codebook.";
    loader.vector(p + "embedding_sum", {bins_, dimension_}, &embedding_sum_[k]);
    loader.vector(p + "cluster_usage", {bins_}, &cluster_usage_[k]);
    // A training flag; Kyutai's checkpoints always carry it (and inference ignores its value).
    loader.vector(p + "_initialized", {1}, &initialized_[k]);
  }
}

void ResidualVq::prepare() {
  input_proj_.prepare();
  output_proj_.prepare();
  if (!centroids_.empty()) return;
  centroids_.reserve(codebooks_);
  for (int k = 0; k < codebooks_; ++k) {
    std::vector<float> centroids(size_t(bins_) * dimension_);
    for (int b = 0; b < bins_; ++b) {
      const float usage = std::max(cluster_usage_[k][b], kUsageEpsilon);
      for (int d = 0; d < dimension_; ++d)
        centroids[size_t(b) * dimension_ + d] = embedding_sum_[k][size_t(b) * dimension_ + d] / usage;
    }
    centroids_.emplace_back(centroids, bins_, dimension_);
  }
  embedding_sum_.clear();
  cluster_usage_.clear();
  initialized_.clear();
}

void ResidualVq::add_centroid(int k, int code, float sign, float* out) const { centroids_[k].add(code, sign, out); }

void ResidualVq::encode(const float* latent, int frames, int codebooks, int32_t* codes, int code_stride,
                        ThreadPool* pool) const {
  if (codebooks <= 0) return;
  std::vector<float> residual = input_proj_.forward(latent, frames, pool);
  for (int k = 0; k < codebooks; ++k) {
    for (int t = 0; t < frames; ++t) {
      float* r = residual.data() + size_t(t) * dimension_;
      const int code = centroids_[k].nearest(r, pool);
      codes[size_t(k) * code_stride + t] = code;
      add_centroid(k, code, -1.0f, r);
    }
  }
}

void ResidualVq::decode_add(const int32_t* codes, int code_stride, int codebooks, int frames, float* out,
                            ThreadPool* pool) const {
  if (codebooks <= 0) return;
  std::vector<float> quantized(size_t(frames) * dimension_, 0.0f);
  for (int k = 0; k < codebooks; ++k)
    for (int t = 0; t < frames; ++t)
      add_centroid(k, codes[size_t(k) * code_stride + t], 1.0f, quantized.data() + size_t(t) * dimension_);
  std::vector<float> projected = output_proj_.forward(quantized.data(), frames, pool);
  for (size_t i = 0; i < projected.size(); ++i) out[i] += projected[i];
}

SplitRvq::SplitRvq(const QuantizerConfig& c)
    : bins_(c.bins),
      output_dimension_(c.output_dimension),
      first_(c.n_q_semantic, c.bins, c.dimension, c.input_dimension, c.output_dimension, "quantizer.rvq_first"),
      rest_(c.n_q - c.n_q_semantic, c.bins, c.dimension, c.input_dimension, c.output_dimension, "quantizer.rvq_rest") {}

void SplitRvq::declare_weights(WeightLoader& loader, const std::string& prefix) {
  first_.declare_weights(loader, prefix + "rvq_first.");
  rest_.declare_weights(loader, prefix + "rvq_rest.");
}

void SplitRvq::prepare() {
  first_.prepare();
  rest_.prepare();
}

void SplitRvq::check_codebooks(int codebooks) const {
  if (codebooks < semantic_codebooks() || codebooks > total_codebooks())
    fail(ErrorCode::InvalidArgument, "Mimi: the number of codebooks must be between ", semantic_codebooks(),
         " (the semantic ones) and ", total_codebooks(), " (the checkpoint's), got ", codebooks);
}

void SplitRvq::encode(const float* latent, int frames, int codebooks, int32_t* codes, int code_stride,
                      ThreadPool* pool) const {
  check_codebooks(codebooks);
  const int semantic = semantic_codebooks();
  first_.encode(latent, frames, semantic, codes, code_stride, pool);
  rest_.encode(latent, frames, codebooks - semantic, codes + size_t(semantic) * code_stride, code_stride, pool);
}

void SplitRvq::decode(const int32_t* codes, int code_stride, int codebooks, int frames, float* latent,
                      ThreadPool* pool) const {
  check_codebooks(codebooks);
  const int semantic = semantic_codebooks();
  std::fill(latent, latent + size_t(frames) * output_dimension_, 0.0f);
  first_.decode_add(codes, code_stride, semantic, frames, latent, pool);
  rest_.decode_add(codes + size_t(semantic) * code_stride, code_stride, codebooks - semantic, frames, latent, pool);
}

}  // namespace kyutai
