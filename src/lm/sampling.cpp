#include "lm/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace kyutai {

void Random::reseed(uint64_t seed) {
  for (auto& s : s_) {
    seed += 0x9e3779b97f4a7c15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    s = z ^ (z >> 31);
  }
}

uint64_t Random::next() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Random::uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

int argmax(const float* logits, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best] || (std::isnan(logits[best]) && !std::isnan(logits[i]))) best = i;
  return best;
}

int sample_token(const float* logits, int n, const SamplingParams& p, Random& rng) {
  if (!p.use_sampling || p.temperature <= 0.0f) return argmax(logits, n);
  thread_local std::vector<float> probs;
  thread_local std::vector<int> order;
  probs.assign(logits, logits + n);
  float m = -INFINITY;
  for (float& v : probs) m = std::max(m, v /= p.temperature);
  double sum = 0;
  for (float& v : probs) sum += (v = std::exp(v - m));
  for (float& v : probs) v = float(v / sum);
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  int k = (p.top_k > 0 && p.top_k < n) ? p.top_k : n;
  if (k < n)
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
  int best = order[0];
  double best_score = -1;
  for (int i = 0; i < k; ++i) {
    double e = -std::log(rng.uniform());  // Exp(1)
    double score = probs[order[i]] / e;
    if (score > best_score) {
      best_score = score;
      best = order[i];
    }
  }
  return best;
}

}  // namespace kyutai
