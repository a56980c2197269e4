// Token sampling as Kyutai's moshi.utils.sampling.sample_token: argmax when sampling is off
// or the temperature is <= 0; otherwise softmax(logits / temp), optional top-k, and an
// exponential race (argmax of p / Exp(1), i.e. Gumbel-max) drawn from a seeded generator so a
// run is reproducible.
#pragma once

#include <cstdint>

namespace kyutai {

// xoshiro256** seeded through splitmix64: small, fast, identical on every platform.
class Random {
 public:
  explicit Random(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next();
  double uniform();  // in (0, 1)

 private:
  uint64_t s_[4];
};

struct SamplingParams {
  bool use_sampling = false;
  float temperature = 0.0f;
  int top_k = 0;  // 0: all
};

// First index of the maximum (torch.argmax); NaN logits never win.
int argmax(const float* logits, int n);
int sample_token(const float* logits, int n, const SamplingParams& params, Random& rng);

}  // namespace kyutai
