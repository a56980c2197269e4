// The LM against the outputs of Kyutai's own implementation (tests/data, copied from
// ../shared/conformance): teacher-forced forward of every case, every architecture variant.
#include <gtest/gtest.h>

#include "lm/delays.h"
#include "lm/lm_model.h"
#include "lm_fixture.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::max_abs_diff;
using test::tensor;
using test::VTensor;

using test::LmFixture;
LmFixture& fixture(const std::string& dir) { return test::lm_fixture(dir); }

class LmConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(LmConformance, EmbeddingSumMatchesKyutai) {
  LmFixture& f = fixture(GetParam());
  for (const Json& c : test::vectors(GetParam()).at("cases").as_array()) {
    SCOPED_TRACE(c.at("name").as_string());
    MultistreamInput input = test::multistream(tensor(c.at("model_input")));
    auto sum = f.model->audio_processing().embedding_sum(input, f.model->pool());
    EXPECT_LT(max_abs_diff(sum, tensor(c.at("embedding_sum")).f), 1e-5);
  }
}

TEST_P(LmConformance, DelayedInputMatchesKyutai) {
  LmFixture& f = fixture(GetParam());
  for (const Json& c : test::vectors(GetParam()).at("cases").as_array()) {
    SCOPED_TRACE(c.at("name").as_string());
    VTensor expected = tensor(c.at("model_input"));
    MultistreamInput delayed = delay_codes(test::multistream(tensor(c.at("codes"))), f.config);
    const int K = int(expected.shape[1]), T = int(expected.shape[2]);
    std::vector<int32_t> dense = dense_codes(delayed, K, 0, T);
    for (size_t i = 0; i < dense.size(); ++i) ASSERT_EQ(dense[i], expected.i[i]) << "index " << i;
    int B, T2;
    std::vector<int32_t> dep = depformer_tokens(test::multistream(tensor(c.at("codes"))), f.config, &B, &T2);
    VTensor dep_expected = tensor(c.at("depformer_tokens"));
    for (size_t i = 0; i < dep.size(); ++i) ASSERT_EQ(dep[i], dep_expected.i[i]) << "index " << i;
  }
}

TEST_P(LmConformance, ForwardMatchesKyutai) {
  LmFixture& f = fixture(GetParam());
  for (const Json& c : test::vectors(GetParam()).at("cases").as_array()) {
    SCOPED_TRACE(c.at("name").as_string());
    LmForward out = f.model->forward(test::multistream(tensor(c.at("codes"))), true);
    const Json& lm = c.at("lm_forward");
    EXPECT_LT(max_abs_diff(out.text.embedding_sum, tensor(c.at("embedding_sum")).f), 1e-5);
    EXPECT_LT(max_abs_diff(out.text.transformer_out, tensor(c.at("transformer_out")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.text.text_logits, tensor(c.at("text_logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.audio_logits, tensor(c.at("audio_logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.logits, tensor(lm.at("logits")).f), 1e-4);
    EXPECT_LT(max_abs_diff(out.text.text_logits, tensor(lm.at("text_logits")).f), 1e-4);
    VTensor mask = tensor(lm.at("mask")), text_mask = tensor(lm.at("text_mask"));
    ASSERT_EQ(out.mask.size(), mask.i.size());
    for (size_t i = 0; i < mask.i.size(); ++i) EXPECT_EQ(out.mask[i], mask.i[i]) << "mask " << i;
    for (size_t i = 0; i < text_mask.i.size(); ++i) EXPECT_EQ(out.text_mask[i], text_mask.i[i]) << "text_mask " << i;

    if (const Json* im = c.find("intermediates")) {
      const int L = f.config.num_layers, DL = f.config.depformer_num_layers;
      for (int l = 0; l < L; ++l) {
        std::string key = "transformer_layer" + std::to_string(l) + "_out";
        EXPECT_LT(max_abs_diff(out.text.layer_outputs[l], tensor(im->at(key)).f), 1e-4) << key;
      }
      EXPECT_LT(max_abs_diff(out.depformer_inputs, tensor(im->at("depformer_input")).f), 1e-4);
      // depformer_layers holds, per time step, one entry per Depformer layer.
      for (int l = 0; l < DL; ++l) {
        std::vector<float> joined;
        for (size_t t = 0; t * DL + l < out.depformer_layers.size(); ++t)
          joined.insert(joined.end(), out.depformer_layers[t * DL + l].begin(), out.depformer_layers[t * DL + l].end());
        std::string key = "depformer_layer" + std::to_string(l) + "_out";
        EXPECT_LT(max_abs_diff(joined, tensor(im->at(key)).f), 1e-4) << key;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, LmConformance, ::testing::ValuesIn(test::lm_checkpoints()),
                         test::checkpoint_name);

}  // namespace
}  // namespace kyutai
