// Range checks of numbers that arrive from JavaScript as doubles. Plain C++ (no Embind), so
// the native fuzz target tests/fuzz/fuzz_bind_checks.cpp runs them under UBSan. A double is
// converted to an integer type only once it is known to fit: casting a NaN, an infinity or an
// out-of-range double to an integer is undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kyutai::wasm {

// Bounds callers may use: every integer up to 2^53 is exact in a double.
constexpr int64_t kMaxSafeInteger = (int64_t(1) << 53) - 1;

// `v` as an integer in lo..hi (|lo|, |hi| <= kMaxSafeInteger), else
// fail(InvalidArgument, "<what> must be an integer in lo..hi, got v").
int64_t checked_integer(double v, const std::string& what, int64_t lo, int64_t hi);

// Element `index` of a plain JS array of token ids: a 32-bit integer (|v| <= 2^31 - 1), else
// fail(InvalidArgument, "<what>: element i (v) is not a 32-bit integer").
int32_t checked_int32_element(double v, const std::string& what, size_t index);

}  // namespace kyutai::wasm
