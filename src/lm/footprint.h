// How much memory a model will take in a given weight format, known from its config and the
// safetensors header alone, so a browser can refuse a checkpoint that cannot fit its heap
// before downloading the rest of it (a wasm32 heap holds at most 4 GiB).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/safetensors.h"
#include "kernels/packed_matrix.h"
#include "lm/lm_config.h"
#include "nn/kv_cache.h"

namespace kyutai {

struct LmFootprint {
  uint64_t weights = 0;   // packed matrices + embedding tables + small tensors (conditioners included)
  uint64_t kv_cache = 0;  // one streaming session's KV caches
  // A TTS session's voice condition (cross-attention models): the cross-attention source and
  // every layer's keys and values over it, for a voice of kVoiceFrames in all max_speakers
  // slots; twice for real CFG (a model without the `cfg` LUT runs a null-condition stream).
  uint64_t cross_attention = 0;
  uint64_t load_buffer = 0;  // the largest tensor held while it is converted
  uint64_t total() const { return weights + kv_cache + cross_attention + load_buffer; }
};

// `format` nullopt keeps each tensor's precision (as LoadOptions does). Tensor dtypes come
// from `header` when it holds the tensor (bf16 tables stay bf16). `kv_format`: the session's
// KV cache rows (LoadOptions::kv_cache).
LmFootprint estimate_lm_footprint(const LmConfig& config, const SafetensorsHeader& header,
                                  std::optional<WeightFormat> format, KvFormat kv_format = KvFormat::F32);

// Throws LimitExceeded when the model does not fit `available_bytes`, naming the sizes and
// the most precise format that would fit (or saying that none does).
void check_lm_fits(const LmConfig& config, const SafetensorsHeader& header, std::optional<WeightFormat> format,
                   uint64_t available_bytes, KvFormat kv_format = KvFormat::F32);

}  // namespace kyutai
