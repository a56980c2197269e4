// Kyutai's StreamingTransformer (moshi.modules.transformer): pre-norm layers of
// self-attention (RoPE, grouped KV, causal window, ring KV cache) and a feed-forward block
// (plain GELU MLP or an activation-gated one), optional layer scale, optional per-step weights.
// The same class runs the LM's temporal transformer, its Depformer and Mimi's transformers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "kernels/ops.h"
#include "nn/kv_cache.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

enum class PosEmb { None, Sin, Rope, SinRope, RopeConcat };
bool parse_pos_emb(const std::string& name, PosEmb* out);
const char* pos_emb_name(PosEmb p);
inline bool pos_has_sin(PosEmb p) { return p == PosEmb::Sin || p == PosEmb::SinRope; }
inline bool pos_has_rope(PosEmb p) { return p == PosEmb::Rope || p == PosEmb::SinRope || p == PosEmb::RopeConcat; }

// "none" is the plain MLP (linear1 -> GELU -> linear2); anything else gates.
bool parse_gating(const std::string& name, bool* gated, Activation* activation);

// Positional encoding of one transformer: the sinusoid added to its input and/or the
// rotation of queries and keys, both at absolute positions (streaming offset included).
struct PositionalEncoding {
  PosEmb kind = PosEmb::None;
  double max_period = 10000;
  float scale = 1.0f;  // positional_scale

  void add_to_input(float* x, int rows, int dim, int64_t first_position) const;
  // v holds `heads` vectors of d_head values at `position`.
  void rotate(float* v, int heads, int d_head, int64_t position) const;
};

struct TransformerConfig {
  int d_model = 0;
  int num_heads = 1;
  int num_layers = 0;
  int kv_repeat = 1;
  NormKind norm = NormKind::LayerNorm;
  PositionalEncoding positional;
  bool gated = false;
  Activation activation = Activation::Gelu;
  std::vector<int> dim_feedforward;   // one per weight set (a single value is broadcast)
  std::optional<double> layer_scale;  // present -> layer_scale_{1,2}.scale tensors
  std::optional<int> context;         // attention window; none -> unbounded
  int weights_per_step = 0;           // 0: one weight set
  std::vector<int> weights_per_step_schedule;
  // Kyutai's TTS: a cross-attention block between self-attention and the feed-forward, over a
  // source fixed for the stream (Transformer::set_cross_source).
  bool cross_attention = false;

  // From the names and values of Kyutai's config keys (norm, positional_embedding, gating
  // as strings); the one place both the LM's and Mimi's configs turn into transformers.
  static TransformerConfig from_keys(int d_model, int num_heads, int num_layers, int kv_repeat, const std::string& norm,
                                     const std::string& positional_embedding, double max_period,
                                     double positional_scale, const std::string& gating,
                                     std::vector<int> dim_feedforward, std::optional<double> layer_scale,
                                     std::optional<int> context);

  int head_dim() const { return d_model / num_heads; }
  int num_kv_heads() const { return num_heads / kv_repeat; }
  int num_weight_sets() const;
  int weight_set(int64_t position) const;  // set used at a (streaming) position
  int ffn_hidden(int set) const;           // Kyutai's hidden-size rule
  int ffn_dim(int set) const { return dim_feedforward.size() == 1 ? dim_feedforward[0] : dim_feedforward[set]; }
  void validate(const std::string& what) const;  // throws InvalidConfig naming `what`
};

struct TransformerLayer {
  Norm norm1, norm2;
  std::vector<Linear> in_proj, out_proj;  // per weight set
  std::vector<Linear> ffn_in, ffn_out;    // gating.linear_in/out or linear1/linear2
  std::vector<float> scale1, scale2;      // layer scale (empty: identity)
  Norm norm_cross;                        // LayerNorm with bias, whatever `norm` says
  std::vector<Linear> cross_in;           // q, k, v: rows 0..D, D..2D, 2D..3D of in_projs.0
  Linear cross_out;
};

// Keys and values of the cross-attention source, one set per layer, computed once per
// stream: [heads, length, d_head] each.
struct CrossSource {
  int length = 0;
  std::vector<std::vector<float>> keys, values;
  std::vector<int64_t> positions;  // 0..length-1: every slot visible to every query
  size_t bytes() const;
};

struct TransformerState {
  int64_t offset = 0;
  std::vector<KvCache> layers;
  CrossSource cross;  // kept by reset(): the condition belongs to the stream, not to a position
  // Scratch reused across calls so a frame allocates nothing once warm.
  std::vector<float> normed, qkv, attn, proj, hidden, scores;

  void reset();
  size_t bytes() const;
};

// Optional per-layer outputs (the residual stream after each layer), for conformance tests.
using LayerObserver = std::vector<std::vector<float>>;

class Transformer {
 public:
  explicit Transformer(TransformerConfig config);
  const TransformerConfig& config() const { return config_; }

  // Declares `<prefix>layers.{i}....` tensors.
  void declare_weights(WeightLoader& loader, const std::string& prefix);

  // Streaming state holding `capacity` past positions (the context, or the number of
  // Depformer steps); a non-streaming pass over T steps uses capacity T.
  TransformerState new_state(int capacity, KvFormat kv_format = KvFormat::F32) const;
  int streaming_capacity() const;  // throws when the config cannot stream

  // x [T, d_model]: input embeddings in, residual stream out (no final norm). Positions
  // start at state.offset, which advances by T.
  // `updates`, when given, receives each layer's self-attention update then (with cross-attention)
  // its cross-attention update, [T, d_model] each.
  void forward(float* x, int T, TransformerState& state, ThreadPool* pool, LayerObserver* observer = nullptr,
               LayerObserver* updates = nullptr) const;

  // Cross-attention keys/values of every layer from src [length, d_model] (the fuser's cross
  // condition), stored in state. Needed once per stream before forward when cross_attention.
  void set_cross_source(const float* src, int length, TransformerState& state, ThreadPool* pool) const;

  // Every weight matrix, layer by layer in the order a forward pass reads them.
  void for_each_matrix(const std::function<void(const PackedMatrix&)>& visit) const;
  size_t weight_bytes() const;

 private:
  void attention_block(const TransformerLayer& layer, KvCache& cache, float* x, int T, TransformerState& st,
                       ThreadPool* pool) const;
  void cross_attention_block(const TransformerLayer& layer, const float* keys, const float* values,
                             const CrossSource& source, float* x, int T, TransformerState& st, ThreadPool* pool) const;
  void ffn_block(const TransformerLayer& layer, float* x, int T, TransformerState& st, ThreadPool* pool) const;

  TransformerConfig config_;
  std::vector<TransformerLayer> layers_;
};

}  // namespace kyutai
