// The multiply-add rate of one thread with every operand in registers: the compute floor's
// denominator (bench/run.mjs: floor = a frame's multiply-adds / this rate). Twelve independent
// chains of acc = acc * m + a on 4-float vectors, enough to keep the multiply and add (or
// fused multiply-add) units busy through their latency; no loads, no stores.
#pragma once

#include <cstdint>
#include <string>

extern "C" {
// The relaxed-SIMD chains (f32x4.relaxed_madd, one fused instruction where the CPU has FMA):
// bench/mac_rate_relaxed.c, compiled apart like src/kernels/gemm_relaxed.c and linked only
// into the *-relaxed bench modules; null elsewhere. Returns a sum of the accumulators.
float kyutai_bench_relaxed_madd_chains(int64_t iterations, float m, float a) __attribute__((weak));
}

namespace kyutai::bench {

// Multiply-adds per iteration of either loop: 12 chains x 4 lanes.
constexpr int kMacsPerIteration = 48;

// {"kind": "mac_rate", "simd128_gmacs": ..., "relaxed_gmacs": ... (-1 without relaxed SIMD)},
// the best of a few runs of about `ms` milliseconds each, on the calling thread.
std::string mac_rate(double ms);

}  // namespace kyutai::bench
