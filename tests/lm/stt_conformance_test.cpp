// The speech-to-text LM (no Depformer, semantic-VAD extra heads) against Kyutai's outputs.
#include <gtest/gtest.h>

#include "lm/lm_gen.h"
#include "lm_fixture.h"
#include "session/asr_session.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::max_abs_diff;
using test::tensor;
using test::VTensor;

const LmModel& stt() { return *test::lm_fixture("stt").model; }

TEST(SttConformance, TeacherForcedOutputsAndHeadProbabilitiesMatchKyutai) {
  for (const Json& c : test::vectors("stt").at("cases").as_array()) {
    SCOPED_TRACE(c.at("name").as_string());
    TextForward out = stt().forward_asr(test::multistream(tensor(c.at("model_input"))));
    EXPECT_LT(max_abs_diff(out.embedding_sum, tensor(c.at("embedding_sum")).f), 1e-5);
    EXPECT_LT(max_abs_diff(out.transformer_out, tensor(c.at("transformer_out")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.text_logits, tensor(c.at("text_logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.extra_heads_logits, tensor(c.at("extra_heads_logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.extra_heads_probs, tensor(c.at("extra_heads_probs")).f), 1e-4);
  }
}

TEST(SttConformance, ForwardWithoutDepformerIsRefusedClearly) {
  MultistreamInput in;
  in.text = TokenTensor(1, 2, 3);
  try {
    stt().forward(in);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dep_q = 0"), std::string::npos) << e.what();
  }
}

void expect_run(const Json& run, const std::vector<int32_t>& tokens, const std::vector<std::vector<int32_t>>& inputs,
                const std::vector<std::vector<float>>& probs, const std::vector<std::vector<float>>& logits) {
  const int n = int(run.at("num_calls").as_number());
  VTensor text = tensor(run.at("text_token")), mi = tensor(run.at("model_input"));
  VTensor p = tensor(run.at("extra_heads_probs")), l = tensor(run.at("text_logits"));
  ASSERT_EQ(int(tokens.size()), n);
  const int K = int(mi.shape[0]), P = int(p.numel() / n), V = int(l.numel() / n);
  for (int c = 0; c < n; ++c) {
    for (int k = 0; k < K; ++k) ASSERT_EQ(inputs[c][k], mi.i[size_t(k) * n + c]) << "call " << c << " stream " << k;
    ASSERT_EQ(tokens[c], text.i[c]) << "call " << c;
    EXPECT_LT(max_abs_diff(probs[c], std::vector<float>(p.f.begin() + size_t(c) * P, p.f.begin() + size_t(c + 1) * P)),
              1e-4);
    EXPECT_LT(max_abs_diff(logits[c], std::vector<float>(l.f.begin() + size_t(c) * V, l.f.begin() + size_t(c + 1) * V)),
              1e-4);
  }
}

TEST(SttConformance, AsrSessionFollowsKyutaiRustAlignment) {
  // Kyutai's Rust ASR = the Python run that passes frame 0 twice: push frames 0..F-1, then
  // one more frame (stored, never read) to obtain the last call's token.
  const Json& run = test::vectors("stt").at("asr_streaming_first_frame_twice");
  VTensor codes = tensor(run.at("audio_codes"));
  const int Q = int(codes.shape[1]), F = int(codes.shape[2]);
  AsrSession session(stt());
  std::vector<int32_t> tokens;
  std::vector<std::vector<int32_t>> inputs;
  std::vector<std::vector<float>> probs, logits;
  for (int f = 0; f <= F; ++f) {
    std::vector<int32_t> frame(Q);
    for (int q = 0; q < Q; ++q) frame[q] = f < F ? int32_t(codes.i[size_t(q) * F + f]) : 0;
    AsrStep s = session.push_frame(frame.data(), Q);
    EXPECT_EQ(s.step, f + 1);
    tokens.push_back(s.text_token);
    inputs.push_back(s.model_input);
    probs.push_back(s.vad);
    logits.push_back(s.text_logits);
  }
  expect_run(run, tokens, inputs, probs, logits);
}

TEST(SttConformance, LmGenStepApiMatchesKyutaiPlainRun) {
  const Json& run = test::vectors("stt").at("asr_streaming");
  VTensor frames = tensor(run.at("input_frame"));
  const int n = int(run.at("num_calls").as_number()), Q = int(frames.shape[1]);
  const LmConfig& c = stt().config();
  LmGen gen(stt(), GenerationParams{});
  std::vector<int32_t> tokens;
  std::vector<std::vector<int32_t>> inputs;
  std::vector<std::vector<float>> probs, logits;
  for (int call = 0; call < n; ++call) {
    std::vector<int32_t> frame(frames.i.begin() + size_t(call) * Q, frames.i.begin() + size_t(call + 1) * Q);
    GenStep s = gen.step(frame.data(), Q);
    ASSERT_EQ(s.frame.size(), 1u) << "LMGen with all delays 0 returns a token at every call";
    tokens.push_back(s.frame[0]);
    inputs.push_back(s.model_input);
    std::vector<float> p(size_t(c.extra_heads_num_heads) * c.extra_heads_dim);
    stt().extra_heads(s.transformer_out.data(), p.data());
    probs.push_back(p);
    logits.push_back(s.text_logits);
  }
  expect_run(run, tokens, inputs, probs, logits);
}

}  // namespace
}  // namespace kyutai
