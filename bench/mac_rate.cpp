#include "mac_rate.h"

#include <algorithm>
#include <cstdio>

#include "bench_util.h"

namespace kyutai::bench {

namespace {

typedef float f32x4 __attribute__((vector_size(16)));

// acc = acc * m + a on 8 vectors: a multiply and an add per lane (f32x4.mul, f32x4.add in
// WebAssembly SIMD; the build keeps them apart, -ffp-contract=off). The chains depend on
// their own results only, so nothing can be hoisted or folded.
// Not inlined: V8 optimizes it as a function of its own (best_rate).
__attribute__((noinline)) float simd128_chains(int64_t iterations, float m, float a) {
  const f32x4 mv = {m, m, m, m}, av = {a, a, a, a};
  // Distinct starting values: eight identical chains would be computed once.
  f32x4 c0 = av, c1 = av * 2, c2 = av * 3, c3 = av * 4, c4 = av * 5, c5 = av * 6, c6 = av * 7, c7 = av * 8;
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = c0 * mv + av;
    c1 = c1 * mv + av;
    c2 = c2 * mv + av;
    c3 = c3 * mv + av;
    c4 = c4 * mv + av;
    c5 = c5 * mv + av;
    c6 = c6 * mv + av;
    c7 = c7 * mv + av;
  }
  const f32x4 s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
  return s[0] + s[1] + s[2] + s[3];
}

// Best rate (GMAC/s) of `chains` over five runs of about `ms` each. Each run is many calls of a
// short loop: V8 compiles a WebAssembly function with its baseline compiler first and swaps in
// optimized code only for later calls (there is no on-stack replacement), so one long call would
// time the baseline code, which keeps every vector on the stack.
template <typename Chains>
double best_rate(Chains chains, double ms, float* sink) {
  constexpr int64_t kIterations = 1 << 12;
  for (int i = 0; i < 2000; ++i) *sink += chains(kIterations, 0.999f, 0.001f + 0.0f * *sink);  // warm-up, tier-up
  auto timed = [&](int64_t calls) {
    const double t0 = now_ms();
    // a = 0.001 + 0 * sink: the same value, but an argument the compiler cannot know, so the
    // calls (of a function it sees as pure) cannot be hoisted out of the loop as one.
    for (int64_t c = 0; c < calls; ++c) *sink += chains(kIterations, 0.999f, 0.001f + 0.0f * *sink);
    return now_ms() - t0;
  };
  int64_t calls = 64;
  while (timed(calls) < ms / 4 && calls < (int64_t(1) << 30)) calls *= 2;
  calls *= 4;
  double best = 0;
  for (int run = 0; run < 5; ++run)
    best = std::max(best, double(calls) * kIterations * kMacsPerIteration / (timed(calls) * 1e6));
  return best;
}

}  // namespace

std::string mac_rate(double ms) {
  float sink = 0;  // consumed below, so the loops cannot be dropped
  const double plain = best_rate(simd128_chains, ms, &sink);
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"platform\": \"%s\", \"kind\": \"mac_rate\", \"threads\": 1, \"simd128_gmacs\": %.3f, "
                "\"check\": %.6g}",
                platform(), plain, double(sink));
  return line;
}

}  // namespace kyutai::bench
