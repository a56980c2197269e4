#include "nn/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "io/dtype.h"

namespace kyutai {

bool parse_kv_format(const std::string& name, KvFormat* out) {
  if (name == "f32") *out = KvFormat::F32;
  else if (name == "bf16") *out = KvFormat::BF16;
  else return false;
  return true;
}

const char* kv_format_name(KvFormat f) { return f == KvFormat::BF16 ? "bf16" : "f32"; }

void KvCache::allocate(int cap, int heads, int dh, KvFormat f) {
  capacity = cap;
  kv_heads = heads;
  d_head = dh;
  format = f;
  const size_t n = size_t(heads) * cap * dh;
  keys.resize(f == KvFormat::F32 ? n : 0);
  values.resize(f == KvFormat::F32 ? n : 0);
  keys_bf16.resize(f == KvFormat::BF16 ? n : 0);
  values_bf16.resize(f == KvFormat::BF16 ? n : 0);
  positions.assign(cap, -1);
  end = 0;
}

void KvCache::reset() {
  std::fill(positions.begin(), positions.end(), -1);
  end = 0;
}

size_t KvCache::bytes() const {
  return keys.bytes() + values.bytes() + keys_bf16.bytes() + values_bf16.bytes() + positions.size() * 8;
}

void KvCache::write(int h, int slot, const float* key, const float* value) {
  const size_t row = (size_t(h) * capacity + slot) * d_head;
  if (format == KvFormat::F32) {
    std::memcpy(keys.data() + row, key, size_t(d_head) * 4);
    std::memcpy(values.data() + row, value, size_t(d_head) * 4);
    return;
  }
  for (int i = 0; i < d_head; ++i) {
    keys_bf16[row + i] = f32_to_bf16(key[i]);
    values_bf16[row + i] = f32_to_bf16(value[i]);
  }
}

}  // namespace kyutai
