#include "mac_rate.h"

#include <algorithm>
#include <cstdio>

#include "bench_util.h"

namespace kyutai::bench {

namespace {

typedef float f32x4 __attribute__((vector_size(16)));

// Steps of one pass: its inputs and weights (4 KB + 8 KB) stay in L1 through every call.
constexpr int kSteps = 256;

f32x4 load(const float* p) {
  f32x4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// `passes` passes of the 4 x 8 tile over kSteps steps: acc[r][v] += w[v] * x[r] (f32x4.mul,
// f32x4.add; the build keeps them apart, -ffp-contract=off). Each pass starts from the last
// one's sums, so no pass can be skipped. Not inlined: V8 optimizes it as a function of its own.
__attribute__((noinline)) float simd128_tile(const float* inputs, const float* weights, int64_t passes, float scale) {
  f32x4 a0 = {scale}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int64_t p = 0; p < passes; ++p) {
    for (int k = 0; k < kSteps; ++k) {
      const f32x4 w0 = load(weights + 8 * k), w1 = load(weights + 8 * k + 4);
      const float* x = inputs + 4 * k;
      const f32x4 x0 = {x[0], x[0], x[0], x[0]}, x1 = {x[1], x[1], x[1], x[1]};
      const f32x4 x2 = {x[2], x[2], x[2], x[2]}, x3 = {x[3], x[3], x[3], x[3]};
      a0 += w0 * x0;
      a1 += w1 * x0;
      a2 += w0 * x1;
      a3 += w1 * x1;
      a4 += w0 * x2;
      a5 += w1 * x2;
      a6 += w0 * x3;
      a7 += w1 * x3;
    }
  }
  const f32x4 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  return s[0] + s[1] + s[2] + s[3];
}

// Best rate (GMAC/s) of `tile` over five runs of about `ms` each. Each run is many calls of a
// short loop: V8 compiles a WebAssembly function with its baseline compiler first and swaps in
// optimized code only for later calls (there is no on-stack replacement), so one long call would
// time the baseline code, which keeps every vector on the stack.
template <typename Tile>
double best_rate(Tile tile, double ms, float* sink) {
  constexpr int64_t kPasses = 16;
  for (int i = 0; i < 2000; ++i) *sink += tile(kPasses, 1e-3f + 0.0f * *sink);  // warm-up, tier-up
  auto timed = [&](int64_t calls) {
    const double t0 = now_ms();
    // scale = 1e-3 + 0 * sink: the same value, but an argument the compiler cannot know, so the
    // calls (of a function it sees as pure) cannot be hoisted out of the loop as one.
    for (int64_t c = 0; c < calls; ++c) *sink += tile(kPasses, 1e-3f + 0.0f * *sink);
    return now_ms() - t0;
  };
  int64_t calls = 64;
  while (timed(calls) < ms / 4 && calls < (int64_t(1) << 30)) calls *= 2;
  calls *= 4;
  double best = 0;
  for (int run = 0; run < 5; ++run)
    best = std::max(best, double(calls) * kPasses * kSteps * kMacsPerStep / (timed(calls) * 1e6));
  return best;
}

}  // namespace

std::string mac_rate(double ms) {
  float sink = 0;  // consumed below, so the loops cannot be dropped
  alignas(16) float inputs[4 * kSteps];
  alignas(16) float weights[8 * kSteps];
  for (int i = 0; i < 4 * kSteps; ++i) inputs[i] = 1e-3f * float(i % 7);  // small: no overflow over many passes
  for (int i = 0; i < 8 * kSteps; ++i) weights[i] = 1e-3f * float(i % 5);
  auto tile = [&](int64_t passes, float scale) { return simd128_tile(inputs, weights, passes, scale); };
  const double plain = best_rate(tile, ms, &sink);
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"platform\": \"%s\", \"kind\": \"mac_rate\", \"threads\": 1, \"simd128_gmacs\": %.3f, "
                "\"check\": %.6g}",
                platform(), plain, double(sink));
  return line;
}

}  // namespace kyutai::bench
