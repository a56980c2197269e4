// Token tensors at the engine's boundary: [B, T] ids, int32 in memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace kyutai {

struct TokenTensor {
  int batch = 0;
  int time = 0;
  std::vector<int32_t> data;  // row-major [batch, time]

  TokenTensor() = default;
  TokenTensor(int b, int t, int32_t fill = 0) : batch(b), time(t), data(size_t(b) * t, fill) {}
  TokenTensor(int b, int t, std::vector<int32_t> values);
  int32_t at(int b, int t) const { return data[size_t(b) * time + t]; }
  int32_t& at(int b, int t) { return data[size_t(b) * time + t]; }

  // From raw bytes of a given dtype (I32/I64 accepted); `what` names the input in errors.
  static TokenTensor from_bytes(DType dtype, const std::vector<int64_t>& shape, const uint8_t* bytes,
                                const std::string& what);
};

// Text tokens (optional) plus one optional tensor per audio codebook. An empty `audio`
// means no audio at all; a nullopt entry means that codebook is absent (contributes zero).
struct MultistreamInput {
  std::optional<TokenTensor> text;
  std::vector<std::optional<TokenTensor>> audio;
};

}  // namespace kyutai
