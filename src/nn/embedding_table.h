// An embedding table kept in float32 or bfloat16 (released checkpoints are bf16 and the
// 32 audio tables of STT-1B alone are 134M values: doubling them to f32 would not fit).
#pragma once

#include <cstdint>

#include "core/aligned_buffer.h"
#include "io/dtype.h"

namespace kyutai {

struct EmbeddingTable {
  int rows = 0;
  int width = 0;
  bool bf16 = false;
  AlignedBuffer<float> f32_data;
  AlignedBuffer<uint16_t> bf16_data;

  bool loaded() const { return rows > 0; }
  size_t bytes() const { return f32_data.bytes() + bf16_data.bytes(); }
  void row(int index, float* out) const {
    if (bf16) {
      const uint16_t* r = bf16_data.data() + size_t(index) * width;
      for (int i = 0; i < width; ++i) out[i] = bf16_to_f32(r[i]);
    } else {
      const float* r = f32_data.data() + size_t(index) * width;
      for (int i = 0; i < width; ++i) out[i] = r[i];
    }
  }
};

}  // namespace kyutai
