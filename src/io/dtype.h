// Element types found in checkpoints and their conversion to float32.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace kyutai {

enum class DType { F32, F16, BF16, I8, U8, I32, I64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...
bool parse_dtype(const std::string& name, DType* out);

inline float bf16_to_f32(uint16_t v) {
  uint32_t bits = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round-to-nearest-even, as torch's .to(torch.bfloat16); NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float f);

// Converts `count` elements of a float dtype (F32, F16, BF16) from possibly unaligned
// little-endian bytes to float32.
void convert_to_f32(DType type, const uint8_t* bytes, size_t count, float* out);

// Index of the first NaN or infinite element of a float dtype (exponent bits all ones), or
// -1 when every element is finite (and for integer dtypes, which have no such values).
int64_t first_non_finite(DType type, const uint8_t* bytes, size_t count);

}  // namespace kyutai
