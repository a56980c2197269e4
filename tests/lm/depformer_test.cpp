// The Depformer's step reuses the input projection of positions that share a weight set
// (depformer_weights_per_step_schedule): the logits are those of projecting afresh, and a
// different LM output is projected again.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "lm/conditioners.h"
#include "lm/lm_model.h"
#include "test_util.h"

namespace kyutai {
namespace {

// The TTS conformance model: depformer_weights_per_step_schedule [0, 1, 2, 3, 4, 4, 5, 5].
std::unique_ptr<LmModel> load_tts() {
  auto bytes = test::read_file(test::data_path("tts/weights.safetensors"));
  return load_lm(LmConfig::parse(test::read_text(test::data_path("tts/config.json"))), bytes.data(), bytes.size());
}

// Logits of positions 0..dep_q-1 for LM output `outs[k]`, projecting afresh at each step when `fresh`.
std::vector<float> run_positions(const LmModel& model, const std::vector<std::vector<float>>& outs, bool fresh) {
  const int positions = model.config().dep_q, card = model.config().card;
  auto voice_bytes = test::read_file(test::data_path("tts/voice_a.safetensors"));
  Voice voice = load_voice(voice_bytes.data(), voice_bytes.size());
  LmConditions conditions = model.prepare_conditions(tts_condition_attributes(model.config(), {voice}, 2.0));
  LmState state = model.new_state(&conditions);
  state.depformer.reset();
  std::vector<float> logits(size_t(positions) * card);
  for (int k = 0; k < positions; ++k) {
    if (fresh) state.depformer.projection.set = -1;
    model.depformer_step(k, k == 0 ? 3 : k, outs[k].data(), state, logits.data() + size_t(k) * card);
  }
  return logits;
}

TEST(Depformer, PositionsSharingAWeightSetGiveTheLogitsOfAFreshProjection) {
  auto model = load_tts();
  ASSERT_EQ(model->config().depformer_in_index(4), model->config().depformer_in_index(5));
  const std::vector<std::vector<float>> outs(model->config().dep_q,
                                             test::uniform_floats(model->config().dim, 21, 1.0f));
  EXPECT_EQ(run_positions(*model, outs, false), run_positions(*model, outs, true));
}

TEST(Depformer, ADifferentLmOutputIsProjectedAgainWithinASharedSet) {
  auto model = load_tts();
  std::vector<std::vector<float>> outs(model->config().dep_q, test::uniform_floats(model->config().dim, 21, 1.0f));
  outs[5] = test::uniform_floats(model->config().dim, 22, 1.0f);  // position 5 shares position 4's set
  const std::vector<float> cached = run_positions(*model, outs, false), fresh = run_positions(*model, outs, true);
  EXPECT_EQ(cached, fresh);
  outs[5] = outs[4];
  EXPECT_NE(run_positions(*model, outs, false), cached) << "the new output changed position 5";
}

}  // namespace
}  // namespace kyutai
