// Multi-codebook audio token processing: embeddings, fusion strategies, positional
// encodings, validation errors, and the SIMD gather-sum kernel.
#include <gtest/gtest.h>

#include <cmath>

#include "io/json.h"
#include "kernels/ops.h"
#include "lm/audio_processing.h"
#include "lm/sampling.h"
#include "lm/synthetic_checkpoint.h"
#include "nn/weight_loader.h"
#include "test_util.h"

namespace kyutai {
namespace {

std::string config_json(const std::string& fusion = "sum", int audio_dim = 32, const std::string& pos = "rope") {
  return R"({"dim": 32, "text_card": 50, "n_q": 8, "dep_q": 0, "card": 16, "num_heads": 4, "num_layers": 1,
             "hidden_scale": 4.125, "context": 8, "gating": "silu", "norm": "rms_norm_f32",
             "positional_embedding": ")" +
         pos + R"(", "delays": [0,0,0,0,0,0,0,0,0],
             "audio_fusion": ")" +
         fusion + R"(", "audio_emb_dim": )" + std::to_string(audio_dim) + "}";
}

// An AudioProcessing module loaded from a synthetic checkpoint of `config`.
struct Module {
  LmConfig config;
  std::unique_ptr<AudioProcessing> audio;
  std::vector<uint8_t> file;

  explicit Module(const std::string& json) : config(LmConfig::parse(json)) {
    file = synthetic_lm_safetensors(config, DType::F32, 5);
    audio = std::make_unique<AudioProcessing>(config);
    LoadOptions options;
    options.use_xnnpack = false;
    WeightLoader loader(options);
    audio->declare_weights(loader);
    SafetensorsFile st(file.data(), file.size());
    for (const auto& t : st.header().tensors)
      if (t.name.rfind("emb.", 0) == 0 || t.name.rfind("text_emb", 0) == 0 || t.name.rfind("audio_proj", 0) == 0 ||
          t.name.rfind("fusion.", 0) == 0)
        loader.add(t, st.tensor_data(t));
    loader.finish();
  }
  std::vector<float> row(const std::string& table, int index) const {
    SafetensorsFile st(file.data(), file.size());
    const TensorInfo* t = st.header().find(table);
    const int width = int(t->shape[1]);
    const float* p = reinterpret_cast<const float*>(st.tensor_data(*t)) + size_t(index) * width;
    return std::vector<float>(p, p + width);
  }
};

MultistreamInput random_input(int B, int T, int n_q, int card, int text_card, uint64_t seed) {
  Random rng(seed);
  MultistreamInput in;
  in.text = TokenTensor(B, T);
  for (auto& v : in.text->data) v = int32_t(rng.next() % text_card);
  for (int c = 0; c < n_q; ++c) {
    TokenTensor a(B, T);
    for (auto& v : a.data) v = int32_t(rng.next() % card);
    in.audio.push_back(a);
  }
  return in;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AudioProcessing, EightCodebooksOfHundredTokensGiveANonZeroSequence) {
  Module m(config_json());
  MultistreamInput in = random_input(1, 100, 8, 16, 50, 1);
  int B, T;
  std::vector<float> sum = m.audio->embedding_sum(in, nullptr, &B, &T);
  EXPECT_EQ(B, 1);
  EXPECT_EQ(T, 100);
  ASSERT_EQ(sum.size(), size_t(1) * 100 * 32);
  for (int t = 0; t < 100; ++t) {
    double norm = 0;
    for (int i = 0; i < 32; ++i) norm += std::fabs(sum[size_t(t) * 32 + i]);
    EXPECT_GT(norm, 0.1) << "position " << t;
  }
}

TEST(AudioProcessing, SumIsTheAudioRowsThenTheTextRow) {
  Module m(config_json());
  MultistreamInput in = random_input(2, 3, 8, 16, 50, 2);
  std::vector<float> sum = m.audio->embedding_sum(in, nullptr);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) {
      std::vector<float> expected(32, 0.0f);
      for (int c = 0; c < 8; ++c) {
        auto r = m.row("emb." + std::to_string(c) + ".weight", in.audio[c]->at(b, t));
        for (int i = 0; i < 32; ++i) expected[i] += r[i];
      }
      auto tr = m.row("text_emb.weight", in.text->at(b, t));
      for (int i = 0; i < 32; ++i) expected[i] += tr[i];
      std::vector<float> got(sum.begin() + (size_t(b) * 3 + t) * 32, sum.begin() + (size_t(b) * 3 + t + 1) * 32);
      EXPECT_EQ(got, expected) << "b " << b << " t " << t;  // same order of additions: exact
    }
}

TEST(AudioProcessing, OnlyCodebooksZeroAndThreePresent) {
  Module m(config_json());
  MultistreamInput full = random_input(1, 4, 8, 16, 50, 3);
  MultistreamInput partial;
  partial.audio.resize(8);
  partial.audio[0] = full.audio[0];
  partial.audio[3] = full.audio[3];
  std::vector<float> sum = m.audio->embedding_sum(partial, nullptr);
  for (int t = 0; t < 4; ++t) {
    auto r0 = m.row("emb.0.weight", full.audio[0]->at(0, t));
    auto r3 = m.row("emb.3.weight", full.audio[3]->at(0, t));
    for (int i = 0; i < 32; ++i) EXPECT_FLOAT_EQ(sum[size_t(t) * 32 + i], r0[i] + r3[i]);
  }
}

TEST(AudioProcessing, MinusOneGivesAZeroEmbeddingAndInitialTokensAreValid) {
  Module m(config_json());
  MultistreamInput in;
  in.text = TokenTensor(1, 2, std::vector<int32_t>{-1, 50});  // 50 = text_card = initial token
  for (int c = 0; c < 8; ++c) in.audio.push_back(TokenTensor(1, 2, std::vector<int32_t>{-1, 16}));
  std::vector<float> sum = m.audio->embedding_sum(in, nullptr);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(sum[i], 0.0f);
  double norm = 0;
  for (int i = 32; i < 64; ++i) norm += std::fabs(sum[i]);
  EXPECT_GT(norm, 0.1);
}

TEST(AudioProcessing, TextOnlyAndAudioOnlyInputs) {
  Module m(config_json());
  MultistreamInput text_only;
  text_only.text = TokenTensor(1, 5, 7);
  EXPECT_EQ(m.audio->embedding_sum(text_only, nullptr).size(), 5u * 32);
  MultistreamInput audio_only = random_input(1, 5, 8, 16, 50, 4);
  audio_only.text.reset();
  EXPECT_EQ(m.audio->embedding_sum(audio_only, nullptr).size(), 5u * 32);
}

TEST(AudioProcessing, NarrowerAudioTablesAreProjectedToTheModelWidth) {
  Module m(config_json("sum", 16));
  MultistreamInput in = random_input(1, 3, 8, 16, 50, 5);
  std::vector<float> with_audio = m.audio->embedding_sum(in, nullptr);
  ASSERT_EQ(with_audio.size(), 3u * 32);
  MultistreamInput text_only{in.text, {}};
  std::vector<float> without = m.audio->embedding_sum(text_only, nullptr);
  EXPECT_GT(test::max_abs_diff(with_audio, without), 0.01);
}

class Fusion : public ::testing::TestWithParam<std::string> {};

TEST_P(Fusion, ShapeMaskAndAudioChangesTheOutput) {
  const std::string kind = GetParam();
  Module m(config_json(kind, 32, "none"));
  MultistreamInput in = random_input(2, 6, 8, 16, 50, 6);
  in.text->at(0, 2) = -1;                     // a text position with no token
  for (auto& a : in.audio) a->at(1, 4) = -1;  // a step with no audio at all
  FusedEmbeddings f = m.audio->fuse(in, 0, nullptr);
  const int expected_length = (kind == "concat" || kind == "interleave") ? 12 : 6;
  EXPECT_EQ(f.batch, 2);
  EXPECT_EQ(f.length, expected_length);
  EXPECT_EQ(f.dim, 32);
  ASSERT_EQ(f.values.size(), size_t(2) * expected_length * 32);
  ASSERT_EQ(f.mask.size(), size_t(2) * expected_length);
  auto mask = [&](int b, int s) { return f.mask[size_t(b) * f.length + s]; };
  if (kind == "concat") {
    EXPECT_EQ(mask(0, 2), 0);      // text position 2 of batch 0
    EXPECT_EQ(mask(0, 6 + 2), 1);  // its audio is present
    EXPECT_EQ(mask(1, 6 + 4), 0);  // audio step 4 of batch 1 is all -1
    EXPECT_EQ(mask(1, 4), 1);
  } else if (kind == "interleave") {
    EXPECT_EQ(mask(0, 4), 0);  // text_2 sits at 2 * 2
    EXPECT_EQ(mask(0, 5), 1);
    EXPECT_EQ(mask(1, 9), 0);  // audio_4 at 2 * 4 + 1
    EXPECT_EQ(mask(1, 8), 1);
  } else {
    EXPECT_EQ(mask(0, 2), 1);  // the step still carries audio
    int sum = 0;
    for (uint8_t v : f.mask) sum += v;
    EXPECT_EQ(sum, 12);
  }
  MultistreamInput no_audio{in.text, {}};
  MultistreamInput other_audio = random_input(2, 6, 8, 16, 50, 99);
  other_audio.text = in.text;
  FusedEmbeddings g = m.audio->fuse(other_audio, 0, nullptr);
  EXPECT_GT(test::max_abs_diff(f.values, g.values), 1e-3) << "different audio must change the fused stream";
  FusedEmbeddings h = m.audio->fuse(no_audio, 0, nullptr);
  EXPECT_EQ(h.length, f.length);
  EXPECT_GT(test::max_abs_diff(f.values, h.values), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Strategies, Fusion, ::testing::Values("sum", "concat", "cross_attention", "interleave"));

TEST(Fusion, CrossAttentionIsCausal) {
  Module m(config_json("cross_attention", 32, "none"));
  MultistreamInput a = random_input(1, 6, 8, 16, 50, 7), b = a;
  for (auto& cb : b.audio) cb->at(0, 5) = (cb->at(0, 5) + 1) % 16;  // change only the last step
  FusedEmbeddings fa = m.audio->fuse(a, 0, nullptr), fb = m.audio->fuse(b, 0, nullptr);
  for (int t = 0; t < 5; ++t)
    for (int i = 0; i < 32; ++i) EXPECT_EQ(fa.values[size_t(t) * 32 + i], fb.values[size_t(t) * 32 + i]) << t;
  EXPECT_GT(test::max_abs_diff(fa.values, fb.values), 1e-4);
}

TEST(PositionalEncoding, SinusoidIsAddedAtAbsolutePositionsIncludingTheOffset) {
  Module sin(config_json("sum", 32, "sin")), none(config_json("sum", 32, "none"));
  MultistreamInput in = random_input(1, 4, 8, 16, 50, 8);
  FusedEmbeddings base = none.audio->fuse(in, 0, nullptr);
  FusedEmbeddings at10 = sin.audio->fuse(in, 10, nullptr);
  for (int t = 0; t < 4; ++t) {
    std::vector<float> e(32, 0.0f);
    add_sin_embedding(e.data(), 32, 10 + t, 10000, 1.0f);
    // Kyutai: [cos(p / 10000^(i / 15)) | sin(...)]
    EXPECT_NEAR(e[1], std::cos((10.0 + t) / std::pow(10000.0, 1.0 / 15)), 1e-5);
    for (int i = 0; i < 32; ++i)
      EXPECT_NEAR(at10.values[size_t(t) * 32 + i], base.values[size_t(t) * 32 + i] + e[i], 1e-5);
  }
}

TEST(PositionalEncoding, RopeScoresDependOnlyOnRelativePosition) {
  PositionalEncoding rope{PosEmb::Rope, 10000, 1.0f};
  std::vector<float> q(16), k(16);
  Random rng(9);
  for (auto& v : q) v = float(rng.uniform() - 0.5);
  for (auto& v : k) v = float(rng.uniform() - 0.5);
  auto score = [&](int pq, int pk) {
    auto a = q, b = k;
    rope.rotate(a.data(), 1, 16, pq);
    rope.rotate(b.data(), 1, 16, pk);
    return dot(a.data(), b.data(), 16);
  };
  EXPECT_NEAR(score(7, 3), score(107, 103), 1e-4);
  EXPECT_GT(std::fabs(score(7, 3) - score(7, 6)), 1e-4);
  // Interleaved pairs: rotating position 1 moves element 0 into element 1 of the same pair.
  std::vector<float> e = {1, 0, 0, 0};
  rope.rotate(e.data(), 1, 4, 1);
  EXPECT_NEAR(e[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(e[1], std::sin(1.0), 1e-6);
}

TEST(AudioProcessingErrors, WrongNumberOfCodebooks) {
  Module m(config_json());
  MultistreamInput in = random_input(1, 3, 7, 16, 50, 10);
  EXPECT_EQ(error_of([&] { m.audio->embedding_sum(in, nullptr); }), "expected 8 audio codebooks (or none), got 7");
}

TEST(AudioProcessingErrors, MismatchedBatchOrTime) {
  Module m(config_json());
  MultistreamInput in = random_input(1, 3, 8, 16, 50, 11);
  in.audio[2] = TokenTensor(1, 4, 0);
  EXPECT_NE(error_of([&] {
              m.audio->embedding_sum(in, nullptr);
            }).find("audio codebook 2 has shape [1, 4] but the other inputs are [1, 3]"),
            std::string::npos);
  in.audio[2] = TokenTensor(2, 3, 0);
  EXPECT_NE(error_of([&] { m.audio->embedding_sum(in, nullptr); }).find("audio codebook 2 has shape [2, 3]"),
            std::string::npos);
}

TEST(AudioProcessingErrors, TokenOutOfRangeNamesCodebookPositionAndValue) {
  Module m(config_json());
  MultistreamInput in = random_input(1, 3, 8, 16, 50, 12);
  in.audio[5]->at(0, 2) = 17;
  EXPECT_EQ(
      error_of([&] { m.audio->embedding_sum(in, nullptr); }),
      "audio codebook 5: token 17 at batch 0, position 2 is out of range: expected -1 or 0..16 (16 = initial token)");
  in.audio[5]->at(0, 2) = -2;
  EXPECT_NE(error_of([&] { m.audio->embedding_sum(in, nullptr); }).find("token -2"), std::string::npos);
  in.audio[5]->at(0, 2) = 3;
  in.text->at(0, 1) = 51;
  EXPECT_NE(error_of([&] { m.audio->embedding_sum(in, nullptr); }).find("text token 51 at batch 0, position 1"),
            std::string::npos);
}

TEST(AudioProcessingErrors, WrongDtype) {
  std::vector<float> values(6, 1.0f);
  EXPECT_EQ(error_of([&] {
              TokenTensor::from_bytes(DType::F32, {1, 6}, reinterpret_cast<const uint8_t*>(values.data()),
                                      "audio codebook 0");
            }),
            "audio codebook 0: token dtype F32 is not an integer type (expected I32 or I64)");
  std::vector<int64_t> ids = {1, 2, 3};
  TokenTensor t = TokenTensor::from_bytes(DType::I64, {1, 3}, reinterpret_cast<const uint8_t*>(ids.data()), "text");
  EXPECT_EQ(t.data, (std::vector<int32_t>{1, 2, 3}));
}

TEST(AudioProcessingErrors, NeitherTextNorAudio) {
  Module m(config_json());
  MultistreamInput empty;
  EXPECT_EQ(error_of([&] { m.audio->embedding_sum(empty, nullptr); }), "neither text nor audio tokens were given");
  empty.audio.resize(8);  // all codebooks absent
  EXPECT_EQ(error_of([&] { m.audio->embedding_sum(empty, nullptr); }), "neither text nor audio tokens were given");
}

TEST(GatherSumKernel, Simd128MatchesScalar) {
#ifndef __wasm_simd128__
  GTEST_SKIP() << "SIMD128 kernels exist only in the WebAssembly build (natively the scalar path runs)";
#else
  const int width = 37, rows = 9, tables = 8;
  std::vector<std::vector<float> > f32(tables, std::vector<float>(size_t(rows) * width));
  std::vector<std::vector<uint16_t> > b16(tables, std::vector<uint16_t>(size_t(rows) * width));
  Random rng(3);
  for (int t = 0; t < tables; ++t)
    for (size_t i = 0; i < f32[t].size(); ++i) {
      f32[t][i] = float(rng.uniform() - 0.5);
      b16[t][i] = f32_to_bf16(f32[t][i]);
    }
  std::vector<const float*> fp;
  std::vector<const uint16_t*> bp;
  for (int t = 0; t < tables; ++t) {
    fp.push_back(f32[t].data());
    bp.push_back(b16[t].data());
  }
  std::vector<int32_t> tokens = {3, -1, 0, 8, 5, -1, 2, 7};
  std::vector<float> a(width), b(width);
  simd128::gather_sum_f32(fp.data(), tokens.data(), tables, width, a.data());
  scalar::gather_sum_f32(fp.data(), tokens.data(), tables, width, b.data());
  EXPECT_EQ(a, b);
  simd128::gather_sum_bf16(bp.data(), tokens.data(), tables, width, a.data());
  scalar::gather_sum_bf16(bp.data(), tokens.data(), tables, width, b.data());
  EXPECT_EQ(a, b);
#endif
}

}  // namespace
}  // namespace kyutai
