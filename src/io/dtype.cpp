#include "io/dtype.h"

#include <cmath>

#include "core/error.h"

namespace kyutai {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
    case DType::I8:
    case DType::U8: return 1;
    case DType::I64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType* out) {
  static const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I32, DType::I64};
  for (DType t : all)
    if (name == dtype_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  if (std::isnan(f)) return sign | 0x7e00;
  float a = std::fabs(f);
  if (a >= 65520.0f) return sign | 0x7c00;
  if (a < 6.103515625e-05f) {  // subnormal range: round to a multiple of 2^-24
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));
  }
  uint32_t abits = bits & 0x7fffffffu;
  abits += 0xfffu + ((abits >> 13) & 1u);  // round to nearest even on the 13 dropped bits
  uint32_t exp = (abits >> 23) - 127 + 15;
  return sign | uint16_t(exp << 10) | uint16_t((abits >> 13) & 0x3ff);
}

void convert_to_f32(DType type, const uint8_t* bytes, size_t count, float* out) {
  switch (type) {
    case DType::F32: std::memcpy(out, bytes, count * 4); return;
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        out[i] = bf16_to_f32(v);
      }
      return;
    case DType::F16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        out[i] = f16_to_f32(v);
      }
      return;
    default: fail(ErrorCode::InvalidCheckpoint, "dtype ", dtype_name(type), " is not a floating-point type");
  }
}

namespace {
template <typename Bits>
int64_t first_with_exponent(const uint8_t* bytes, size_t count, Bits exponent) {
  for (size_t i = 0; i < count; ++i) {
    Bits v;
    std::memcpy(&v, bytes + sizeof(Bits) * i, sizeof(Bits));
    if ((v & exponent) == exponent) return int64_t(i);
  }
  return -1;
}
}  // namespace

int64_t first_non_finite(DType type, const uint8_t* bytes, size_t count) {
  switch (type) {
    case DType::F32: return first_with_exponent<uint32_t>(bytes, count, 0x7f800000u);
    case DType::BF16: return first_with_exponent<uint16_t>(bytes, count, 0x7f80u);
    case DType::F16: return first_with_exponent<uint16_t>(bytes, count, 0x7c00u);
    default: return -1;
  }
}

}  // namespace kyutai
