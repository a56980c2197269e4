// Fuzzes the pure number checks of the Embind layer (wasm/bind_checks.h), built natively so
// UBSan sees every conversion: any double (NaN, infinities, subnormals, huge values), any
// bounds. A value accepted must be exactly the integer given and lie within its bounds; a
// refused one must be a kyutai::Error; anything else (a sanitizer report, another exception)
// is a finding.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "bind_checks.h"
#include "core/error.h"

namespace {

using namespace kyutai;
using namespace kyutai::wasm;

[[noreturn]] void finding(const char* what, double v) {
  std::fprintf(stderr, "fuzz_bind_checks: %s (value %.17g)\n", what, v);
  std::abort();
}

template <typename T>
T take(const uint8_t*& data, size_t& size) {
  T out{};
  size_t n = size < sizeof(T) ? size : sizeof(T);
  std::memcpy(&out, data, n);
  data += n;
  size -= n;
  return out;
}

void integer(double v, int64_t lo, int64_t hi) {
  int64_t got;
  try {
    got = checked_integer(v, "option 'x'", lo, hi);
  } catch (const Error& e) {
    // Bad bounds are the caller's bug (Internal); a bad value, the user's (InvalidArgument).
    bool bad_bounds = lo > hi || lo < -kMaxSafeInteger || hi > kMaxSafeInteger;
    if ((e.code() == ErrorCode::Internal) != bad_bounds) finding("checked_integer: wrong error code", v);
    if (!bad_bounds && v >= double(lo) && v <= double(hi) && v == std::floor(v))
      finding("checked_integer refused an integer within its bounds", v);
    return;
  }
  if (got < lo || got > hi) finding("checked_integer returned a value outside its bounds", v);
  if (double(got) != v) finding("checked_integer changed the value", v);
}

void element(double v, size_t index) {
  int32_t got;
  try {
    got = checked_int32_element(v, "ids", index);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) finding("checked_int32_element: wrong error code", v);
    if (std::fabs(v) <= 2147483647.0 && v == std::floor(v))
      finding("checked_int32_element refused a 32-bit integer", v);
    return;
  }
  if (double(got) != v) finding("checked_int32_element changed the value", v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Each record: a double, then bounds (two int64, folded half the time into the safe range so
  // the accepting path is reached often).
  while (size > 0) {
    const double v = take<double>(data, size);
    int64_t lo = take<int64_t>(data, size);
    int64_t hi = take<int64_t>(data, size);
    const uint8_t mode = take<uint8_t>(data, size);
    if (mode & 1) {
      lo = lo % (kMaxSafeInteger + 1);
      hi = hi % (kMaxSafeInteger + 1);
      if (lo > hi) std::swap(lo, hi);
    }
    integer(v, lo, hi);
    element(v, mode);
  }
  return 0;
}
