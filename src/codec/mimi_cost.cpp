#include "codec/mimi_cost.h"

#include <algorithm>
#include <functional>
#include <string>

namespace kyutai {

namespace {

int int_pow(int base, int exponent) {
  int v = 1;
  for (int i = 0; i < exponent; ++i) v *= base;
  return v;
}

// A convolution of `rows` input steps: each output row takes in/groups x kernel products per
// output channel (a transposed one: each input row, kernel products per output channel of its group).
MimiLayerCost conv(const std::string& name, MimiLayerCost::Op op, int in, int out, int kernel, int stride, int dilation,
                   int groups, int rows) {
  const int64_t macs = op == MimiLayerCost::Op::Conv1d ? int64_t(rows / stride) * out * (in / groups) * kernel
                                                       : int64_t(rows) * in * (out / groups) * kernel;
  return {name, op, in, out, kernel, stride, dilation, groups, rows, macs, int64_t(in / groups) * out * kernel};
}

MimiLayerCost conv1d(const std::string& name, int in, int out, int kernel, int stride, int dilation, int rows) {
  return conv(name, MimiLayerCost::Op::Conv1d, in, out, kernel, stride, dilation, 1, rows);
}

// SEANetResnetBlock j at `dim` channels: conv (residual kernel, dilation base^j) to dim /
// compress, 1x1 conv back, and a 1x1 shortcut unless true_skip.
void add_block(std::vector<MimiLayerCost>& out, const SeanetConfig& c, const std::string& name, int dim, int j,
               int rows) {
  const int hidden = dim / c.compress;
  out.push_back(
      conv1d(name + ".block.1.conv.conv", dim, hidden, c.residual_kernel_size, 1, int_pow(c.dilation_base, j), rows));
  out.push_back(conv1d(name + ".block.3.conv.conv", hidden, dim, 1, 1, 1, rows));
  if (!c.true_skip) out.push_back(conv1d(name + ".shortcut.conv.conv", dim, dim, 1, 1, 1, rows));
}

// The layer names and order of seanet.cpp (Kyutai's nn.Sequential indices).
void add_seanet_encoder(std::vector<MimiLayerCost>& out, const SeanetConfig& c, int samples) {
  int rows = samples, width = c.n_filters, index = 0;
  const std::string p = "encoder.model.";
  out.push_back(conv1d(p + std::to_string(index++) + ".conv.conv", c.channels, width, c.kernel_size, 1, 1, rows));
  for (auto ratio = c.ratios.rbegin(); ratio != c.ratios.rend(); ++ratio) {
    for (int j = 0; j < c.n_residual_layers; ++j) add_block(out, c, p + std::to_string(index++), width, j, rows);
    index++;  // ELU
    out.push_back(conv1d(p + std::to_string(index++) + ".conv.conv", width, 2 * width, 2 * *ratio, *ratio, 1, rows));
    rows /= *ratio;
    width *= 2;
  }
  index++;  // ELU
  out.push_back(conv1d(p + std::to_string(index) + ".conv.conv", width, c.dimension, c.last_kernel_size, 1, 1, rows));
}

void add_seanet_decoder(std::vector<MimiLayerCost>& out, const SeanetConfig& c, int steps) {
  int rows = steps, width = int_pow(2, int(c.ratios.size())) * c.n_filters, index = 0;
  const std::string p = "decoder.model.";
  out.push_back(conv1d(p + std::to_string(index++) + ".conv.conv", c.dimension, width, c.kernel_size, 1, 1, rows));
  for (int ratio : c.ratios) {
    index++;  // ELU
    out.push_back(conv(p + std::to_string(index++) + ".convtr.convtr", MimiLayerCost::Op::ConvTranspose1d, width,
                       width / 2, 2 * ratio, ratio, 1, 1, rows));
    rows *= ratio;
    width /= 2;
    for (int j = 0; j < c.n_residual_layers; ++j) add_block(out, c, p + std::to_string(index++), width, j, rows);
  }
  index++;  // ELU
  out.push_back(conv1d(p + std::to_string(index) + ".conv.conv", width, c.channels, c.last_kernel_size, 1, 1, rows));
}

// `steps` transformer steps from stream position `first`: per step and layer the q/k/v and
// output projections, the feed-forward block, and attention (q.k and the weighted sum of
// values) over min(position + 1, context) keys.
MimiLayerCost transformer(const std::string& name, const MimiTransformerConfig& mc, int64_t first, int steps) {
  const TransformerConfig t = mc.transformer();
  const int64_t d = t.d_model, kv = int64_t(t.num_kv_heads()) * t.head_dim();
  const int64_t hidden = t.ffn_hidden(0);
  const int64_t per_step = d * (d + 2 * kv) + d * d + (t.gated ? 3 : 2) * d * hidden;
  MimiLayerCost l;
  l.name = name;
  l.op = MimiLayerCost::Op::Transformer;
  l.rows = steps;
  for (int s = 0; s < steps; ++s) {
    const int64_t position = first + s;
    const int64_t keys = t.context ? std::min<int64_t>(position + 1, *t.context) : position + 1;
    l.macs += t.num_layers * (per_step + 2 * keys * d);
  }
  l.weights = t.num_layers * per_step;
  int64_t projections = 0;
  if (mc.d_model != mc.input_dimension) projections += int64_t(mc.input_dimension) * mc.d_model;
  if (mc.d_model != mc.output_dimensions.at(0)) projections += int64_t(mc.output_dimensions[0]) * mc.d_model;
  l.macs += steps * projections;
  l.weights += projections;
  return l;
}

struct Rvq {
  std::string name;
  int codebooks;
};

std::vector<Rvq> rvqs(const QuantizerConfig& q) {
  std::vector<Rvq> out = {{"quantizer.rvq_first", q.n_q_semantic}, {"quantizer.rvq_rest", q.n_q - q.n_q_semantic}};
  out.erase(std::remove_if(out.begin(), out.end(), [](const Rvq& r) { return r.codebooks <= 0; }), out.end());
  return out;
}

}  // namespace

namespace {

// Sum over layers of a field or of a method (std::invoke takes either).
template <class Get>
int64_t total(const std::vector<MimiLayerCost>& layers, Get get) {
  int64_t n = 0;
  for (const auto& l : layers) n += std::invoke(get, l);
  return n;
}

}  // namespace

int64_t MimiFrameCost::encode_macs() const { return total(encode, &MimiLayerCost::macs); }
int64_t MimiFrameCost::decode_macs() const { return total(decode, &MimiLayerCost::macs); }
int64_t MimiFrameCost::encode_weights() const { return total(encode, &MimiLayerCost::weights); }
int64_t MimiFrameCost::decode_weights() const { return total(decode, &MimiLayerCost::weights); }
int64_t MimiFrameCost::encode_weight_bytes() const { return total(encode, &MimiLayerCost::weight_bytes); }
int64_t MimiFrameCost::decode_weight_bytes() const { return total(decode, &MimiLayerCost::weight_bytes); }

const char* mimi_op_name(MimiLayerCost::Op op) {
  switch (op) {
    case MimiLayerCost::Op::Conv1d: return "conv1d";
    case MimiLayerCost::Op::ConvTranspose1d: return "conv_transpose1d";
    case MimiLayerCost::Op::Transformer: return "transformer";
    case MimiLayerCost::Op::RvqSearch: return "rvq_search";
  }
  return "?";
}

MimiFrameCost mimi_frame_cost(const MimiConfig& c, int64_t frame_index) {
  MimiFrameCost cost;
  const int steps = c.encoder_steps_per_frame(), dim = c.seanet.dimension;
  const int64_t first_step = frame_index * steps;
  const QuantizerConfig& q = c.quantizer;

  add_seanet_encoder(cost.encode, c.seanet, c.frame_size());
  cost.encode.push_back(transformer("encoder_transformer", c.transformer, first_step, steps));
  if (steps > 1) cost.encode.push_back(conv1d("downsample.conv.conv.conv", dim, dim, 2 * steps, steps, 1, steps));
  for (const Rvq& r : rvqs(q)) {
    cost.encode.push_back(conv1d(r.name + ".input_proj", q.input_dimension, q.dimension, 1, 1, 1, 1));
    // Nearest centroid: one product per bin and dimension (|c|^2 - 2 c.x, or (x - c)^2).
    MimiLayerCost search;
    search.name = r.name + ".vq";
    search.op = MimiLayerCost::Op::RvqSearch;
    search.rows = 1;
    search.macs = search.weights = int64_t(r.codebooks) * q.bins * q.dimension;
    cost.encode.push_back(search);
  }

  for (const Rvq& r : rvqs(q)) {
    // Decoding sums centroids (additions only); the output projection multiplies.
    cost.decode.push_back(conv1d(r.name + ".output_proj", q.dimension, q.output_dimension, 1, 1, 1, 1));
  }
  if (steps > 1) {
    const int groups = c.upsample_channel_wise_bug ? dim : 1;
    cost.decode.push_back(conv("upsample.convtr.convtr.convtr", MimiLayerCost::Op::ConvTranspose1d, dim, dim, 2 * steps,
                               steps, 1, groups, 1));
  }
  cost.decode.push_back(transformer("decoder_transformer", c.transformer, first_step, steps));
  add_seanet_decoder(cost.decode, c.seanet, steps);
  return cost;
}

}  // namespace kyutai
