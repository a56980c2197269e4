// The multiply-add rate of one thread at its best: the compute floor's denominator
// (bench/mimi.mjs: floor = a frame's multiply-adds / this rate). The micro-kernel is the tile
// Mimi's convolutions run (src/codec/conv.cpp): 4 output rows x one 8-wide panel held in 8
// vector accumulators, each step one panel of weights and 4 broadcast inputs, all read from
// L1-resident buffers, so the multiplies sit off the accumulation chains and the loop is bound
// by the multiply and add units' throughput, not their latency. SIMD128 only: Emscripten
// 3.1.6's binaryen rejects f32x4.relaxed_madd (opcode 0x105) when it links a module, so no
// module here can hold a relaxed multiply-add; the f32 kernels run f32x4.mul + f32x4.add.
#pragma once

#include <cstdint>
#include <string>

namespace kyutai::bench {

// Multiply-adds per step of the tile: 4 rows x 8 columns.
constexpr int kMacsPerStep = 32;

// {"kind": "mac_rate", "simd128_gmacs": ...},
// the best of a few runs of about `ms` milliseconds each, on the calling thread.
std::string mac_rate(double ms);

}  // namespace kyutai::bench
