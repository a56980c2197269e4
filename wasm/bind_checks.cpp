#include "bind_checks.h"

#include <cmath>

#include "core/error.h"

namespace kyutai::wasm {

int64_t checked_integer(double v, const std::string& what, int64_t lo, int64_t hi) {
  if (lo > hi || lo < -kMaxSafeInteger || hi > kMaxSafeInteger)
    fail(ErrorCode::Internal, what, ": bounds ", lo, "..", hi, " are not exact in a double");
  // Written so that NaN fails every comparison and lands in the error.
  if (!(v >= double(lo) && v <= double(hi)) || v != std::floor(v))
    fail(ErrorCode::InvalidArgument, what, " must be an integer in ", lo, "..", hi, ", got ", v);
  return int64_t(v);
}

int32_t checked_int32_element(double v, const std::string& what, size_t index) {
  if (!(std::fabs(v) <= 2147483647.0) || v != std::floor(v))
    fail(ErrorCode::InvalidArgument, what, ": element ", index, " (", v, ") is not a 32-bit integer");
  return int32_t(v);
}

}  // namespace kyutai::wasm
