// The relaxed-SIMD 4-bit kernel (gemm_relaxed.c). That file needs a compiler with relaxed
// SIMD's 8-bit dot product (clang >= 16; Emscripten 3.1.6's clang 14 has none), so it is
// compiled apart and linked only into the *-relaxed WebAssembly modules, which engines without
// relaxed SIMD refuse to compile. Everywhere else the weak reference below stays null.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {
// One Q4 panel in the Bytes layout against one row of 8-bit activations: out[16] =
// sx * sum over blocks of scale[row][block] * (sum of (q + 8) x over the block - 8 block_sum);
// with `pair`, also the next panel (panel_bytes further, its scales scale_stride further) into
// out[16..32). `nibble_mask` is 15, passed in so the compiler cannot fold it into a constant:
// V8 would rebuild a v128 constant at each use inside the loop.
void kyutai_relaxed_q4_panels(const uint8_t* panel, size_t panel_bytes, size_t scale_stride, int pair, int blocks,
                              const int8_t* x, const int32_t* block_sums, const float* scales, float sx,
                              int nibble_mask, float* out) __attribute__((weak));
}

namespace kyutai {
inline bool relaxed_simd_linked() { return kyutai_relaxed_q4_panels != nullptr; }
}  // namespace kyutai
