// A bias-optional linear layer over packed weights.
#pragma once

#include <vector>

#include "kernels/gemm.h"
#include "kernels/packed_matrix.h"

namespace kyutai {

class ThreadPool;

struct Linear {
  PackedMatrix weight;
  std::vector<float> bias;  // empty when the layer has none

  int in() const { return weight.in; }
  int out() const { return weight.out; }
  bool loaded() const { return weight.out > 0; }
  // y[rows, out] = x[rows, in] W^T + b
  void forward(const float* x, int rows, float* y, ThreadPool* pool) const {
    gemm(weight, x, rows, y, bias.empty() ? nullptr : bias.data(), pool);
  }
};

}  // namespace kyutai
