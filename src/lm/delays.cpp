#include "lm/delays.h"

#include <cmath>

namespace kyutai {

std::vector<int32_t> dense_codes(const MultistreamInput& in, int K, int b, int T) {
  std::vector<int32_t> out(size_t(K) * T, -1);
  for (int t = 0; t < T; ++t) {
    if (in.text) out[t] = in.text->at(b, t);
    for (int c = 0; c + 1 < K && c < int(in.audio.size()); ++c)
      if (in.audio[c]) out[size_t(1 + c) * T + t] = in.audio[c]->at(b, t);
  }
  return out;
}

MultistreamInput from_dense(const std::vector<std::vector<int32_t>>& per_batch, int K, int T) {
  const int B = int(per_batch.size());
  MultistreamInput out;
  out.text = TokenTensor(B, T);
  out.audio.assign(K - 1, TokenTensor(B, T));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      out.text->at(b, t) = per_batch[b][t];
      for (int k = 1; k < K; ++k) out.audio[k - 1]->at(b, t) = per_batch[b][size_t(k) * T + t];
    }
  return out;
}

namespace {
int batch_of(const MultistreamInput& in, int* T) {
  if (in.text) {
    *T = in.text->time;
    return in.text->batch;
  }
  for (const auto& a : in.audio)
    if (a) {
      *T = a->time;
      return a->batch;
    }
  *T = 0;
  return 0;
}
int32_t initial_token(const LmConfig& c, int k) { return k == 0 ? c.text_initial_token() : c.audio_initial_token(); }
}  // namespace

MultistreamInput delay_codes(const MultistreamInput& codes, const LmConfig& c) {
  int T;
  const int B = batch_of(codes, &T), K = c.num_codebooks();
  std::vector<std::vector<int32_t>> out(B);
  for (int b = 0; b < B; ++b) {
    std::vector<int32_t> in = dense_codes(codes, K, b, T);
    out[b].resize(size_t(K) * T);
    for (int k = 0; k < K; ++k)
      for (int t = 0; t < T; ++t) {
        int src = t - 1 - c.delays[k];
        out[b][size_t(k) * T + t] = (t >= 1 && src >= 0) ? in[size_t(k) * T + src] : initial_token(c, k);
      }
  }
  return from_dense(out, K, T);
}

std::vector<int32_t> depformer_tokens(const MultistreamInput& codes, const LmConfig& c, int* B_out, int* T_out) {
  int T;
  const int B = batch_of(codes, &T), K = c.num_codebooks();
  std::vector<int32_t> out(size_t(B) * c.dep_q * T);
  for (int b = 0; b < B; ++b) {
    std::vector<int32_t> in = dense_codes(codes, K, b, T);
    for (int k = 0; k < c.dep_q; ++k)
      for (int t = 0; t < T; ++t) {
        int src = t - c.delays[k];
        out[(size_t(b) * c.dep_q + k) * T + t] = src >= 0 ? in[size_t(k) * T + src] : initial_token(c, k);
      }
  }
  *B_out = B;
  *T_out = T;
  return out;
}

void undelay_logits(const std::vector<float>& step, const LmConfig& c, int B, int T, std::vector<float>* logits,
                    std::vector<uint8_t>* mask) {
  const int Q = c.dep_q, card = c.card;
  logits->assign(size_t(B) * Q * T * card, NAN);
  mask->assign(size_t(B) * Q * T, 0);
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < Q; ++k) {
      int d = c.delays[1 + k];
      for (int t = 0; t + d < T; ++t) {
        const float* src = step.data() + ((size_t(b) * Q + k) * T + t + d) * card;
        std::copy(src, src + card, logits->data() + ((size_t(b) * Q + k) * T + t) * card);
        (*mask)[(size_t(b) * Q + k) * T + t] = 1;
      }
    }
}

}  // namespace kyutai
