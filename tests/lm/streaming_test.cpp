// Frame-by-frame inference against the full forward and against Kyutai's LMGen runs.
#include <gtest/gtest.h>

#include <set>
#include "lm/delays.h"
#include "lm/lm_gen.h"
#include "lm/lm_model.h"
#include "lm_fixture.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::max_abs_diff;
using test::tensor;
using test::VTensor;

// Runs the post-delay input one step at a time, the Depformer position by position with
// the teacher tokens, as Kyutai's streaming check does.
struct StreamedForward {
  std::vector<float> transformer_out, text_logits, audio_logits;  // [T, dim], [T, V], [Q, T, card]
};

StreamedForward stream(const LmModel& model, const MultistreamInput& model_input,
                       const std::vector<int32_t>* dep_tokens) {
  const LmConfig& c = model.config();
  const int K = c.num_codebooks(), Q = c.dep_q;
  const int T = model_input.text->time;
  std::vector<int32_t> dense = dense_codes(model_input, K, 0, T);
  LmState state = model.new_state();
  StreamedForward out;
  out.audio_logits.resize(size_t(Q) * T * c.card);
  std::vector<int32_t> column(K);
  std::vector<float> tout(c.dim), logits(c.text_card_out), audio(c.card);
  for (int t = 0; t < T; ++t) {
    for (int k = 0; k < K; ++k) column[k] = dense[size_t(k) * T + t];
    model.step(column.data(), state, tout.data(), logits.data());
    out.transformer_out.insert(out.transformer_out.end(), tout.begin(), tout.end());
    out.text_logits.insert(out.text_logits.end(), logits.begin(), logits.end());
    if (!dep_tokens) continue;
    state.depformer.reset();
    for (int k = 0; k < Q; ++k) {
      model.depformer_step(k, (*dep_tokens)[size_t(k) * T + t], tout.data(), state, audio.data());
      std::copy(audio.begin(), audio.end(), out.audio_logits.begin() + (size_t(k) * T + t) * c.card);
    }
  }
  return out;
}

class Streaming : public ::testing::TestWithParam<std::string> {};

TEST_P(Streaming, StepByStepEqualsFullForwardAndKyutai) {
  const LmModel& model = *test::lm_fixture(GetParam()).model;
  for (const Json& c : test::vectors(GetParam()).at("cases").as_array()) {
    SCOPED_TRACE(c.at("name").as_string());
    MultistreamInput codes = test::multistream(tensor(c.at("codes")));
    MultistreamInput model_input = delay_codes(codes, model.config());
    int B, T;
    std::vector<int32_t> dep = depformer_tokens(codes, model.config(), &B, &T);
    StreamedForward s = stream(model, model_input, &dep);
    LmForward full = model.forward(codes);
    EXPECT_LT(max_abs_diff(s.transformer_out, full.text.transformer_out), 1e-4);
    EXPECT_LT(max_abs_diff(s.text_logits, full.text.text_logits), 1e-4);
    EXPECT_LT(max_abs_diff(s.audio_logits, full.audio_logits), 1e-4);
    EXPECT_LT(max_abs_diff(s.transformer_out, tensor(c.at("transformer_out")).f), 1e-4);
    EXPECT_LT(max_abs_diff(s.text_logits, tensor(c.at("text_logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(s.audio_logits, tensor(c.at("audio_logits")).f), 1e-4);
    if (const Json* st = c.find("streaming"); st && st->find("transformer_out")) {
      EXPECT_LT(max_abs_diff(s.transformer_out, tensor(st->at("transformer_out")).f), 1e-4);
      EXPECT_LT(max_abs_diff(s.text_logits, tensor(st->at("text_logits")).f), 1e-4);
      EXPECT_LT(max_abs_diff(s.audio_logits, tensor(st->at("audio_logits")).f), 1e-4);
    }
  }
}

TEST_P(Streaming, SequenceLongerThanContextMatchesFullForward) {
  const LmModel& model = *test::lm_fixture(GetParam()).model;
  const LmConfig& c = model.config();
  const int T = *c.context * 2 + 5;
  Random rng(7);
  MultistreamInput codes;
  codes.text = TokenTensor(1, T);
  for (int t = 0; t < T; ++t) codes.text->at(0, t) = int32_t(rng.next() % c.text_card);
  for (int q = 0; q < c.n_q; ++q) {
    TokenTensor a(1, T);
    for (int t = 0; t < T; ++t) a.at(0, t) = int32_t(rng.next() % c.card);
    codes.audio.push_back(a);
  }
  MultistreamInput model_input = delay_codes(codes, c);
  int B, T2;
  std::vector<int32_t> dep = depformer_tokens(codes, c, &B, &T2);
  StreamedForward s = stream(model, model_input, &dep);
  LmForward full = model.forward(codes);
  EXPECT_LT(max_abs_diff(s.transformer_out, full.text.transformer_out), 1e-4);
  EXPECT_LT(max_abs_diff(s.text_logits, full.text.text_logits), 1e-4);
  EXPECT_LT(max_abs_diff(s.audio_logits, full.audio_logits), 1e-4);
  // Constant memory: the ring buffer holds exactly `context` entries however long the stream.
  LmState state = model.new_state();
  EXPECT_EQ(state.transformer.layers[0].capacity, *c.context);
}

TEST_P(Streaming, GreedyGenerationReproducesKyutaiTokenForToken) {
  const LmModel& model = *test::lm_fixture(GetParam()).model;
  const LmConfig& c = model.config();
  const Json& g = test::vectors(GetParam()).at("greedy_generation");
  VTensor user = tensor(g.at("user_codes")), model_input = tensor(g.at("model_input"));
  VTensor text = tensor(g.at("sampled_text")), audio = tensor(g.at("sampled_audio"));
  VTensor outputs = tensor(g.at("step_outputs")), text_logits = tensor(g.at("text_logits"));
  VTensor dep_logits = tensor(g.at("depformer_logits"));
  const int T = int(model_input.shape[2]), K = c.num_codebooks(), U = int(user.shape[1]), Q = c.dep_q;
  LmGen gen(model, GenerationParams{});
  std::vector<int32_t> frame(U);
  std::vector<int64_t> returned;
  int first_output = -1;
  for (int t = 0; t < T; ++t) {
    for (int u = 0; u < U; ++u) frame[u] = int32_t(user.i[size_t(u) * T + t]);
    GenStep s = gen.step(frame.data(), U);
    for (int k = 0; k < K; ++k)
      ASSERT_EQ(s.model_input[k], model_input.i[size_t(k) * T + t]) << "k " << k << " t " << t;
    std::vector<float> expect_logits(text_logits.f.begin() + size_t(t) * c.text_card_out,
                                     text_logits.f.begin() + size_t(t + 1) * c.text_card_out);
    EXPECT_LT(max_abs_diff(s.text_logits, expect_logits), 1e-4) << "t " << t;
    ASSERT_EQ(s.text_token, text.i[t]) << "t " << t;
    for (int k = 0; k < Q; ++k) ASSERT_EQ(s.audio_tokens[k], audio.i[size_t(k) * T + t]) << "k " << k << " t " << t;
    std::vector<float> expect_dep(dep_logits.f.begin() + size_t(t) * Q * c.card,
                                  dep_logits.f.begin() + size_t(t + 1) * Q * c.card);
    EXPECT_LT(max_abs_diff(s.depformer_logits, expect_dep), 1e-4) << "t " << t;
    if (!s.frame.empty()) {
      if (first_output < 0) first_output = t;
      returned.insert(returned.end(), s.frame.begin(), s.frame.end());
    }
  }
  EXPECT_EQ(first_output, int(g.at("first_step_with_output").as_number()));
  const int n = int(outputs.shape[2]);
  ASSERT_EQ(returned.size(), size_t(n) * (Q + 1));
  for (int j = 0; j < n; ++j)
    for (int k = 0; k <= Q; ++k)
      EXPECT_EQ(returned[size_t(j) * (Q + 1) + k], outputs.i[size_t(k) * n + j]) << k << "," << j;
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, Streaming, ::testing::ValuesIn(test::lm_checkpoints()), test::checkpoint_name);

TEST(Sampling, TemperatureZeroEqualsGreedy) {
  const LmModel& model = *test::lm_fixture("lm").model;
  GenerationParams greedy;
  GenerationParams cold = GenerationParams::from_config(model.config(), true);
  cold.text.temperature = 0;
  cold.audio.temperature = 0;
  LmGen a(model, greedy), b(model, cold);
  std::vector<int32_t> user(8, 5);
  for (int t = 0; t < 12; ++t) {
    GenStep x = a.step(user.data(), 8), y = b.step(user.data(), 8);
    ASSERT_EQ(x.text_token, y.text_token);
    ASSERT_EQ(x.audio_tokens, y.audio_tokens);
  }
}

TEST(Sampling, FixedSeedIsReproducibleAndSeedsDiffer) {
  const LmModel& model = *test::lm_fixture("lm").model;
  auto run = [&](uint64_t seed) {
    GenerationParams p = GenerationParams::from_config(model.config(), true);
    p.text.temperature = 1.5f;
    p.audio.temperature = 1.5f;
    p.seed = seed;
    LmGen gen(model, p);
    std::vector<int32_t> user(8, 3), tokens;
    for (int t = 0; t < 16; ++t) {
      GenStep s = gen.step(user.data(), 8);
      tokens.push_back(s.text_token);
      tokens.insert(tokens.end(), s.audio_tokens.begin(), s.audio_tokens.end());
    }
    return tokens;
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

TEST(Sampling, TopKOnlyDrawsAmongTheKBest) {
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.9f, 0.5f, 2.8f};
  Random rng(1);
  SamplingParams p{true, 5.0f, 2};
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) seen.insert(sample_token(logits.data(), 6, p, rng));
  EXPECT_EQ(seen, (std::set<int>{1, 3}));
  p.top_k = 0;
  for (int i = 0; i < 2000; ++i) seen.insert(sample_token(logits.data(), 6, p, rng));
  EXPECT_EQ(seen.size(), 6u);
}

}  // namespace
}  // namespace kyutai
