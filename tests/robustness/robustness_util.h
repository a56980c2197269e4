// Helpers of the robustness tests: the error a call raises, and the heap in use.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#if defined(__EMSCRIPTEN__)
#include <malloc.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KYUTAI_ROBUSTNESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KYUTAI_ROBUSTNESS_ASAN 1
#endif
#endif
#if defined(KYUTAI_ROBUSTNESS_ASAN)
#include <sanitizer/allocator_interface.h>
#endif

#include "core/error.h"

namespace kyutai::robustness {

struct Raised {
  bool thrown = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

// Runs `f`; a kyutai::Error is captured, anything else propagates (and fails the test).
template <typename F>
Raised raised(F&& f) {
  Raised r;
  try {
    f();
  } catch (const Error& e) {
    r.thrown = true;
    r.code = e.code();
    r.message = e.what();
  }
  return r;
}

// The exact message and code (what README's robustness table quotes).
#define EXPECT_KYUTAI_ERROR(expr, expected_code, expected_message)                                                    \
  do {                                                                                                                \
    ::kyutai::robustness::Raised r_ = ::kyutai::robustness::raised([&] { expr; });                                    \
    EXPECT_TRUE(r_.thrown) << #expr << " did not throw";                                                              \
    EXPECT_EQ(std::string(::kyutai::error_code_name(r_.code)), std::string(::kyutai::error_code_name(expected_code))) \
        << r_.message;                                                                                                \
    EXPECT_EQ(r_.message, std::string(expected_message));                                                             \
  } while (0)

// The code and a fragment of the message (for messages that depend on the platform).
#define EXPECT_KYUTAI_ERROR_HAS(expr, expected_code, fragment)                                                        \
  do {                                                                                                                \
    ::kyutai::robustness::Raised r_ = ::kyutai::robustness::raised([&] { expr; });                                    \
    EXPECT_TRUE(r_.thrown) << #expr << " did not throw";                                                              \
    EXPECT_EQ(std::string(::kyutai::error_code_name(r_.code)), std::string(::kyutai::error_code_name(expected_code))) \
        << r_.message;                                                                                                \
    EXPECT_NE(r_.message.find(fragment), std::string::npos) << r_.message;                                            \
  } while (0)

// Bytes of heap currently allocated, exactly, where that can be measured: AddressSanitizer's
// allocator statistics in sanitizer builds, dlmalloc's mallinfo() under Emscripten. glibc's
// mallinfo counts chunks parked in its per-thread caches as in use, so it is too noisy for
// an exact comparison: plain native builds report nothing (heap_measurable() is false).

inline bool heap_measurable() {
#if defined(KYUTAI_ROBUSTNESS_ASAN) || defined(__EMSCRIPTEN__)
  return true;
#else
  return false;
#endif
}

inline size_t heap_in_use() {
#if defined(KYUTAI_ROBUSTNESS_ASAN)
  return __sanitizer_get_current_allocated_bytes();
#elif defined(__EMSCRIPTEN__)
  return size_t(mallinfo().uordblks);
#else
  return 0;
#endif
}

}  // namespace kyutai::robustness
