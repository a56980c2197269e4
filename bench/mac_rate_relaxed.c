// The relaxed-SIMD multiply-add chains of bench/mac_rate.h: acc = relaxed_madd(acc, m, a), one
// f32x4.relaxed_madd per vector (a fused multiply-add where the CPU has one). C, freestanding,
// no calls: compiled apart by clang >= 16 (bench/CMakeLists.txt, as wasm/relaxed.cmake does for
// the engine's kernel) and linked only into the *-relaxed bench modules.
#include <stdint.h>
#include <wasm_simd128.h>

static inline v128_t madd(v128_t acc, v128_t m, v128_t a) { return wasm_f32x4_relaxed_madd(acc, m, a); }

float kyutai_bench_relaxed_madd_chains(int64_t iterations, float m, float a) {
  const v128_t mv = wasm_f32x4_splat(m), av = wasm_f32x4_splat(a);
  // Distinct starting values: twelve identical chains would be computed once.
  v128_t c0 = av, c1 = wasm_f32x4_add(c0, av), c2 = wasm_f32x4_add(c1, av), c3 = wasm_f32x4_add(c2, av),
         c4 = wasm_f32x4_add(c3, av), c5 = wasm_f32x4_add(c4, av), c6 = wasm_f32x4_add(c5, av),
         c7 = wasm_f32x4_add(c6, av), c8 = wasm_f32x4_add(c7, av), c9 = wasm_f32x4_add(c8, av),
         c10 = wasm_f32x4_add(c9, av), c11 = wasm_f32x4_add(c10, av);
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = madd(c0, mv, av);
    c1 = madd(c1, mv, av);
    c2 = madd(c2, mv, av);
    c3 = madd(c3, mv, av);
    c4 = madd(c4, mv, av);
    c5 = madd(c5, mv, av);
    c6 = madd(c6, mv, av);
    c7 = madd(c7, mv, av);
    c8 = madd(c8, mv, av);
    c9 = madd(c9, mv, av);
    c10 = madd(c10, mv, av);
    c11 = madd(c11, mv, av);
  }
  const v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(c0, c1), wasm_f32x4_add(c2, c3)),
                                  wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(c4, c5), wasm_f32x4_add(c6, c7)),
                                                 wasm_f32x4_add(wasm_f32x4_add(c8, c9), wasm_f32x4_add(c10, c11))));
  return wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
         wasm_f32x4_extract_lane(s, 3);
}
