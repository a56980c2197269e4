// The arithmetic of one streaming Mimi frame, counted from the config: every layer that
// multiplies and adds (SEANet convolutions and transposed convolutions, the transformers,
// the down/up-sampling, the RVQ projections, nearest-centroid search and decoding), in
// network order. The benchmark divides the sum by a measured multiply-add rate to get the
// compute floor of encode and decode, and times the convolution layers one by one, with a
// peer, from the same list (bench/bench_mimi.cpp). Elementwise work (activations, norms,
// softmax, RoPE, residual adds) is not counted: it does no multiply-adds. Each layer also
// counts the weight values it reads, for the time a frame needs just to read them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codec/mimi_config.h"

namespace kyutai {

struct MimiLayerCost {
  enum class Op { Conv1d, ConvTranspose1d, Transformer, RvqSearch };
  std::string name;  // the layer's weight prefix, e.g. "encoder.model.3.conv.conv"
  Op op = Op::Conv1d;
  // Convolutions: the layer's shape and the input rows (time steps) it takes per frame.
  int in_channels = 0, out_channels = 0, kernel = 1, stride = 1, dilation = 1, groups = 1;
  int rows = 0;
  int64_t macs = 0;     // multiply-adds of the layer for one frame
  int64_t weights = 0;  // weight values (matrices, kernels, codebooks) it reads, each once per frame
  // Bytes those reads take: 4 per f32 value; the RVQ search reads 2 per codebook value (their
  // high halves, plus both halves of the few centroids it ranks exactly: codec/codebook.h).
  int64_t weight_bytes() const { return weights * (op == Op::RvqSearch ? 2 : 4); }
};

struct MimiFrameCost {
  std::vector<MimiLayerCost> encode, decode;  // network order
  int64_t encode_macs() const;
  int64_t decode_macs() const;
  int64_t encode_weights() const;
  int64_t decode_weights() const;
  int64_t encode_weight_bytes() const;
  int64_t decode_weight_bytes() const;
};

// Multiply-adds of frame number `frame_index` of a stream (0: the first frame). Only the
// transformers' attention depends on it: a step attends to min(position + 1, context) keys.
MimiFrameCost mimi_frame_cost(const MimiConfig& config, int64_t frame_index);

const char* mimi_op_name(MimiLayerCost::Op op);

}  // namespace kyutai
