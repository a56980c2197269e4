// A content hash of a byte stream: 64-bit FNV-1a over 8-byte words (and the tail bytes), fast
// enough to run over a 2 GB download as it streams in. It identifies content (the model cache
// keys on it); it is not a cryptographic digest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace kyutai {

constexpr uint64_t kContentHashSeed = 1469598103934665603ull;

inline uint64_t content_hash(uint64_t h, const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// 16 lower-case hex digits.
inline std::string hex64(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

}  // namespace kyutai
