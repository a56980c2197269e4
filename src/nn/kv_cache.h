// Ring KV cache of one attention layer (moshi's RingKVCache): keys and values of the last
// `capacity` positions, each slot tagged with its absolute position; a chunk of T steps is
// written before its queries attend, as in Kyutai's code. The rows are stored in
// float32 (exact) or bfloat16: at a full attention window a streaming frame reads the whole
// cache, so 16-bit rows halve that traffic and the cache's memory. bf16 is the precision
// Kyutai's released checkpoints run their KV cache at on GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"

namespace kyutai {

enum class KvFormat { F32, BF16 };
bool parse_kv_format(const std::string& name, KvFormat* out);  // "f32" | "bf16"
const char* kv_format_name(KvFormat f);
inline size_t kv_value_bytes(KvFormat f) { return f == KvFormat::BF16 ? 2 : 4; }

struct KvCache {
  int capacity = 0;
  int kv_heads = 0;
  int d_head = 0;
  KvFormat format = KvFormat::F32;
  // [kv_heads][capacity][d_head]; the pair of the cache's format is allocated, the other empty.
  AlignedBuffer<float> keys, values;
  AlignedBuffer<uint16_t> keys_bf16, values_bf16;
  std::vector<int64_t> positions;  // per slot; -1 = empty
  int64_t end = 0;                 // positions written so far

  void allocate(int capacity, int kv_heads, int d_head, KvFormat format = KvFormat::F32);
  void reset();
  size_t bytes() const;
  // Stores head h's key and value rows (d_head floats each) in `slot`, rounded to nearest
  // even when the cache holds bf16.
  void write(int h, int slot, const float* key, const float* value);
};

}  // namespace kyutai
