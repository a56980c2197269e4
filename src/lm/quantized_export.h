// Writes a loaded model back to safetensors in its in-memory formats: quantized linear
// weights as Kyutai-named `<name>.weight` (I8 for q8, U8 nibble pairs for q4) with
// `<name>.weight_scale` (q8: F16 per 32 inputs; q4: F32 per 32 inputs), tables as bf16,
// small tensors as f32. The loader reads such a file directly (no load-time quantization),
// so users download a quarter of the bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "nn/weight_loader.h"

namespace kyutai {

// Calls `sink` once with the header bytes, then once per tensor with its data. Peak extra
// memory: one tensor.
void export_weights(const std::vector<WeightLoader::TensorRef>& tensors,
                    const std::vector<std::pair<std::string, std::string>>& metadata,
                    const std::function<void(const uint8_t*, size_t)>& sink);
inline void export_weights(const WeightLoader& loaded, const std::vector<std::pair<std::string, std::string>>& metadata,
                           const std::function<void(const uint8_t*, size_t)>& sink) {
  export_weights(loaded.directory(), metadata, sink);
}

}  // namespace kyutai
