// The relaxed-SIMD 4-bit kernel (gemm_relaxed.c). That file needs a compiler with relaxed
// SIMD's 8-bit dot product (clang >= 16; Emscripten 3.1.6's clang 14 has none), so it is
// compiled apart and linked only into the *-relaxed WebAssembly modules, which engines without
// relaxed SIMD refuse to compile. Everywhere else the weak reference below stays null.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {
// One Q4 panel in the Bytes layout against one row of 8-bit activations: out[16] = the sum over
// blocks of (sum of c x over the block) * (scale[row] * sx[block]) - min[row] * (sx[block] *
// block_sum), in that order (the scalar kernel's); per block `scales` holds the 16 rows' scales
// then their mins. `nibble_mask` is 15, passed in so the compiler cannot
// fold it into a constant: V8 would rebuild a v128 constant at each use inside the loop.
void kyutai_relaxed_q4_panel(const uint8_t* panel, int blocks, const int8_t* x, const int32_t* block_sums,
                             const float* scales, const float* sx, int nibble_mask, float* out) __attribute__((weak));
}

namespace kyutai {
inline bool relaxed_simd_linked() { return kyutai_relaxed_q4_panel != nullptr; }
}  // namespace kyutai
