#include "codec/quantizer.h"

#include <algorithm>

#include "core/error.h"
#include "nn/weight_loader.h"

namespace kyutai {

namespace {

// Kyutai's EuclideanCodebook epsilon: usage is clamped before dividing.
constexpr float kUsageEpsilon = 1e-5f;
constexpr int kBinPanel = 8;

// GCC would vectorise the dimension loop (shuffling to keep each sum's order); without loop
// vectorisation its SLP pass turns the lane loop into vector code.
#if defined(__GNUC__) && !defined(__clang__)
#define KYUTAI_LANE_VECTORS __attribute__((optimize("no-tree-loop-vectorize")))
#else
#define KYUTAI_LANE_VECTORS
#endif

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
  const int panels = (bins_ + kBinPanel - 1) / kBinPanel;
  centroids_.resize(codebooks_);
  for (int k = 0; k < codebooks_; ++k) {
    std::vector<float>& packed = centroids_[k];
    packed.assign(size_t(panels) * dimension_ * kBinPanel, 0.0f);
    for (int b = 0; b < bins_; ++b) {
      const float usage = std::max(cluster_usage_[k][b], kUsageEpsilon);
      float* dst = packed.data() + size_t(b / kBinPanel) * dimension_ * kBinPanel + b % kBinPanel;
      const float* sum = embedding_sum_[k].data() + size_t(b) * dimension_;
      for (int d = 0; d < dimension_; ++d) dst[size_t(d) * kBinPanel] = sum[d] / usage;
    }
  }
  embedding_sum_.clear();
  cluster_usage_.clear();
  initialized_.clear();
}

void ResidualVq::add_centroid(int k, int code, float sign, float* out) const {
  const float* c = centroids_[k].data() + size_t(code / kBinPanel) * dimension_ * kBinPanel + code % kBinPanel;
  for (int d = 0; d < dimension_; ++d) out[d] += sign * c[size_t(d) * kBinPanel];
}

// The nearest centroid by squared Euclidean distance, which ranks centroids as Kyutai's
// cdist + argmin does (up to float rounding); the first of equal distances wins, as with
// torch.argmin. Each distance sums over dimensions in order.
KYUTAI_LANE_VECTORS int ResidualVq::nearest(int k, const float* v) const {
  int best = 0;
  float best_distance = 0;
  const float* panel = centroids_[k].data();
  for (int b0 = 0; b0 < bins_; b0 += kBinPanel, panel += size_t(dimension_) * kBinPanel) {
    float distance[kBinPanel] = {};
    for (int d = 0; d < dimension_; ++d) {
      const float* c = panel + size_t(d) * kBinPanel;
      for (int l = 0; l < kBinPanel; ++l) {
        const float diff = v[d] - c[l];
        distance[l] += diff * diff;
      }
    }
    for (int l = 0; l < kBinPanel && b0 + l < bins_; ++l)
      if (b0 + l == 0 || distance[l] < best_distance) {
        best = b0 + l;
        best_distance = distance[l];
      }
  }
  return best;
}

void ResidualVq::encode(const float* latent, int frames, int codebooks, int32_t* codes, int code_stride,
                        ThreadPool* pool) const {
  if (codebooks <= 0) return;
  std::vector<float> residual = input_proj_.forward(latent, frames, pool);
  for (int k = 0; k < codebooks; ++k) {
    for (int t = 0; t < frames; ++t) {
      float* r = residual.data() + size_t(t) * dimension_;
      const int code = nearest(k, r);
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
