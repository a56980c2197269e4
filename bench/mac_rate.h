// The multiply-add rate of one thread with every operand in registers: the compute floor's
// denominator (bench/run.mjs: floor = a frame's multiply-adds / this rate). Eight independent
// chains of acc = acc * m + a on 4-float vectors, enough to keep the multiply and add (or
// fused multiply-add) units busy through their latency; no loads, no stores. SIMD128 only:
// Emscripten 3.1.6's binaryen rejects f32x4.relaxed_madd (opcode 0x105) when it links a
// module, so no module here can hold a relaxed multiply-add; the f32 kernels (Mimi's
// convolutions) run f32x4.mul + f32x4.add in every build, the very operations timed here.
#pragma once

#include <cstdint>
#include <string>

namespace kyutai::bench {

// Multiply-adds per iteration: 8 chains x 4 lanes (8 of the 16 vector registers V8 has on x64).
constexpr int kMacsPerIteration = 32;

// {"kind": "mac_rate", "simd128_gmacs": ...},
// the best of a few runs of about `ms` milliseconds each, on the calling thread.
std::string mac_rate(double ms);

}  // namespace kyutai::bench
