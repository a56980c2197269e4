#include "mac_rate.h"

#include <algorithm>
#include <cstdio>

#include "bench_util.h"

namespace kyutai::bench {

namespace {

typedef float f32x4 __attribute__((vector_size(16)));

// acc = acc * m + a on 12 vectors: a multiply and an add per lane (f32x4.mul, f32x4.add in
// WebAssembly SIMD; the build keeps them apart, -ffp-contract=off). The chains depend on
// their own results only, so nothing can be hoisted or folded.
float simd128_chains(int64_t iterations, float m, float a) {
  const f32x4 mv = {m, m, m, m}, av = {a, a, a, a};
  // Distinct starting values: twelve identical chains would be computed once.
  f32x4 c0 = av, c1 = av * 2, c2 = av * 3, c3 = av * 4, c4 = av * 5, c5 = av * 6, c6 = av * 7, c7 = av * 8, c8 = av * 9,
        c9 = av * 10, c10 = av * 11, c11 = av * 12;
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = c0 * mv + av;
    c1 = c1 * mv + av;
    c2 = c2 * mv + av;
    c3 = c3 * mv + av;
    c4 = c4 * mv + av;
    c5 = c5 * mv + av;
    c6 = c6 * mv + av;
    c7 = c7 * mv + av;
    c8 = c8 * mv + av;
    c9 = c9 * mv + av;
    c10 = c10 * mv + av;
    c11 = c11 * mv + av;
  }
  const f32x4 s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
  return s[0] + s[1] + s[2] + s[3];
}

// Best rate (GMAC/s) of `chains` over a few runs of about `ms` each; the iteration count is
// found by doubling from a short run, so a slow engine still finishes promptly.
template <typename Chains>
double best_rate(Chains chains, double ms, float* sink) {
  int64_t iterations = 1 << 14;
  for (;;) {
    const double t0 = now_ms();
    *sink += chains(iterations, 0.999f, 0.001f);
    if (now_ms() - t0 > ms / 4 || iterations > (int64_t(1) << 40)) break;
    iterations *= 2;
  }
  iterations *= 4;
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const double t0 = now_ms();
    *sink += chains(iterations, 0.999f, 0.001f);
    const double elapsed = now_ms() - t0;
    best = std::max(best, double(iterations) * kMacsPerIteration / (elapsed * 1e6));
  }
  return best;
}

}  // namespace

std::string mac_rate(double ms) {
  float sink = 0;  // consumed below, so the loops cannot be dropped
  const double plain = best_rate(simd128_chains, ms, &sink);
  const double relaxed = kyutai_bench_relaxed_madd_chains ? best_rate(kyutai_bench_relaxed_madd_chains, ms, &sink) : -1;
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"platform\": \"%s\", \"kind\": \"mac_rate\", \"threads\": 1, \"simd128_gmacs\": %.3f, "
                "\"relaxed_gmacs\": %.3f, \"check\": %.6g}",
                platform(), plain, relaxed, double(sink));
  return line;
}

}  // namespace kyutai::bench
