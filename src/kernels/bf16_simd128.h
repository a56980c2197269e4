// bfloat16 -> float32 in WebAssembly SIMD128: a bf16 value is the high 16 bits of the float,
// so widening only places the 16 bits in the high half of a 32-bit lane, low half zero. The
// matrix products, the embedding gather and attention over a bf16 KV cache share these.
#pragma once
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include <cstdint>

namespace kyutai::simd128 {

// Values 0..3 / 4..7 of 8 consecutive bf16: interleaving with zeros is one shuffle per 4
// values (punpcklwd / punpckhwd).
inline v128_t bf16_low(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11); }
inline v128_t bf16_high(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15); }

// The same 8 values read as 4 pairs, one per 32-bit lane: elements 0, 2, 4, 6 (the low halves
// shifted up) and 1, 3, 5, 7 (the high halves, low halves cleared), one instruction each.
inline v128_t bf16_even(v128_t pairs) { return wasm_i32x4_shl(pairs, 16); }
inline v128_t bf16_odd(v128_t pairs) { return wasm_v128_and(pairs, wasm_i32x4_splat(int32_t(0xffff0000u))); }

}  // namespace kyutai::simd128
#endif  // __wasm_simd128__
