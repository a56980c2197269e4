#include "lm/tokens.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace kyutai {

TokenTensor::TokenTensor(int b, int t, std::vector<int32_t> values) : batch(b), time(t), data(std::move(values)) {
  // 64-bit product: on wasm32 a size_t product of two large dimensions wraps around.
  if (b < 0 || t < 0 || data.size() != uint64_t(b) * uint64_t(t))
    fail(ErrorCode::InvalidArgument, "token tensor [", b, ", ", t, "] given ", data.size(), " values");
}

TokenTensor TokenTensor::from_bytes(DType dtype, const std::vector<int64_t>& shape, const uint8_t* bytes,
                                    const std::string& what) {
  if (dtype != DType::I32 && dtype != DType::I64)
    fail(ErrorCode::InvalidArgument, what, ": token dtype ", dtype_name(dtype),
         " is not an integer type (expected I32 or I64)");
  if (shape.size() != 2)
    fail(ErrorCode::InvalidArgument, what, ": tokens must have shape [B, T], got rank ", shape.size());
  if (shape[0] <= 0 || shape[1] < 0 || shape[0] > (1 << 20) || shape[1] > (1 << 24))
    fail(ErrorCode::InvalidArgument, what, ": invalid token shape [", shape[0], ", ", shape[1], "]");
  TokenTensor t{static_cast<int>(shape[0]), static_cast<int>(shape[1])};
  for (size_t i = 0; i < t.data.size(); ++i) {
    int64_t v;
    if (dtype == DType::I32) {
      int32_t x;
      std::memcpy(&x, bytes + 4 * i, 4);
      v = x;
    } else {
      std::memcpy(&v, bytes + 8 * i, 8);
    }
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
      fail(ErrorCode::InvalidArgument, what, ": token ", v, " at index ", i, " does not fit 32 bits");
    t.data[i] = int32_t(v);
  }
  return t;
}

}  // namespace kyutai
