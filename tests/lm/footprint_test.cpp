// Memory estimates from config + header, checked against what loading really allocates,
// and the refusal message for a model that cannot fit.
#include <gtest/gtest.h>

#include "lm/footprint.h"
#include "lm/lm_model.h"
#include "lm/synthetic_checkpoint.h"
#include "lm_fixture.h"
#include "test_util.h"

namespace kyutai {
namespace {

SafetensorsHeader header_of(const std::vector<uint8_t>& file) {
  return SafetensorsFile(file.data(), file.size()).header();
}

TEST(Footprint, WeightEstimateMatchesWhatTheLoadedModelHolds) {
  const LmConfig& c = test::lm_fixture("lm").config;
  auto file = test::read_file(test::data_path("lm/weights.safetensors"));
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::BF16, WeightFormat::Q8, WeightFormat::Q4}) {
    SCOPED_TRACE(weight_format_name(f));
    LoadOptions o;
    o.format = f;
    o.use_xnnpack = false;
    auto model = load_lm(c, file.data(), file.size(), o);
    size_t held = 0;
    for (const auto& t : model->tensors()) {
      if (t.kind == WeightLoader::Kind::Linear) held += static_cast<const Linear*>(t.target)->weight.bytes();
      if (t.kind == WeightLoader::Kind::Table) held += static_cast<const EmbeddingTable*>(t.target)->bytes();
      if (t.kind == WeightLoader::Kind::Vector) held += static_cast<const std::vector<float>*>(t.target)->size() * 4;
    }
    EXPECT_EQ(estimate_lm_footprint(c, header_of(file), f).weights, held);
  }
}

// Every declared weight of a model, as loaded: its packed matrices, tables and vectors.
size_t held_weight_bytes(const LmModel& model) {
  size_t held = 0;
  for (const auto& t : model.tensors()) {
    if (t.kind == WeightLoader::Kind::Linear) held += static_cast<const Linear*>(t.target)->weight.bytes();
    if (t.kind == WeightLoader::Kind::Table) held += static_cast<const EmbeddingTable*>(t.target)->bytes();
    if (t.kind == WeightLoader::Kind::Vector) held += static_cast<const std::vector<float>*>(t.target)->size() * 4;
  }
  return held;
}

TEST(Footprint, TtsCountsConditionersAndTheVoiceConditionOfItsStreams) {
  for (const std::string variant : {"", "_nocfg"}) {
    SCOPED_TRACE("tts" + variant);
    const LmConfig c = LmConfig::parse(test::read_text(test::data_path("tts/config" + variant + ".json")));
    auto file = test::read_file(test::data_path("tts/weights" + variant + ".safetensors"));
    // nullopt: the checkpoint's precision (f32), also for the q|k|v split of cross_attention.in_projs.0.
    for (std::optional<WeightFormat> f :
         {std::optional<WeightFormat>(), std::optional(WeightFormat::Q8), std::optional(WeightFormat::Q4)}) {
      LoadOptions o;
      o.format = f;
      o.use_xnnpack = false;
      auto model = load_lm(c, file.data(), file.size(), o);
      const LmFootprint fp = estimate_lm_footprint(c, header_of(file), f);
      EXPECT_EQ(fp.weights, held_weight_bytes(*model)) << (f ? weight_format_name(*f) : "checkpoint precision");
      // A voice of Kyutai's length: the condition a speaker holds and the keys/values its
      // stream computes; a model without the cfg LUT runs a null-condition stream beside it.
      const Voice voice = Voice::from_latent(
          c.conditioner("speaker_wavs")->dim, kVoiceFrames,
          std::vector<float>(size_t(c.conditioner("speaker_wavs")->dim) * kVoiceFrames, 0.1f));
      const LmConditions cond = model->prepare_conditions(tts_condition_attributes(c, {voice}, 2.0));
      const LmState state = model->new_state(&cond);
      const uint64_t one_stream = state.transformer.cross.bytes() + cond.cross.size() * sizeof(float);
      EXPECT_EQ(fp.cross_attention, (variant.empty() ? 1 : 2) * one_stream);
      EXPECT_EQ(fp.total(), fp.weights + fp.kv_cache + fp.cross_attention + fp.load_buffer);
    }
  }
}

TEST(Footprint, Stt1bShapeInEachFormat) {
  // The released STT-1B shape, bf16 checkpoint: only the header is needed.
  LmConfig c = LmConfig::parse(R"({"dim": 2048, "text_card": 8000, "n_q": 32, "dep_q": 0, "card": 2048,
      "num_heads": 16, "num_layers": 16, "hidden_scale": 4.125, "context": 750, "gating": "silu",
      "norm": "rms_norm_f32", "positional_embedding": "rope", "max_period": 100000,
      "delays": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],
      "extra_heads_num_heads": 4, "extra_heads_dim": 6})");
  SafetensorsHeader h;
  h.tensors = synthetic_lm_tensors(c, DType::BF16);
  auto q4 = estimate_lm_footprint(c, h, WeightFormat::Q4), q8 = estimate_lm_footprint(c, h, WeightFormat::Q8);
  auto bf16 = estimate_lm_footprint(c, h, std::nullopt);
  // 0.84e9 matrix weights: q4 0.52 GB + bf16 tables 0.28 GB = 787 MiB; q8 0.85 GB + tables.
  EXPECT_GT(q4.weights, 700u << 20);
  EXPECT_LT(q4.weights, 900u << 20);
  EXPECT_LT(q4.weights, q8.weights);
  EXPECT_LT(q8.weights, bf16.weights);
  EXPECT_EQ(q4.kv_cache, uint64_t(16) * 750 * 2048 * 2 * 4);
  EXPECT_EQ(estimate_lm_footprint(c, h, WeightFormat::Q4, KvFormat::BF16).kv_cache, q4.kv_cache / 2)
      << "a bf16 KV cache takes 2 bytes per value";
  EXPECT_EQ(q4.load_buffer, uint64_t(2) * 5632 * 2048 * 2);  // the gating linear_in, bf16
}

TEST(Footprint, TooLargeIsRefusedNamingSizesAndAFormatThatFits) {
  const LmConfig& c = test::lm_fixture("lm").config;
  auto file = test::read_file(test::data_path("lm/weights.safetensors"));
  const SafetensorsHeader h = header_of(file);
  const uint64_t q4 = estimate_lm_footprint(c, h, WeightFormat::Q4).total();
  try {
    check_lm_fits(c, h, WeightFormat::F32, q4 + 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::LimitExceeded);
    std::string m = e.what();
    EXPECT_NE(m.find("model does not fit: f32 needs"), std::string::npos) << m;
    EXPECT_NE(m.find("format 'q4' would need"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_lm_fits(c, h, WeightFormat::Q4, q4));
  try {
    check_lm_fits(c, h, WeightFormat::Q4, 1000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no weight format fits"), std::string::npos);
  }
}

}  // namespace
}  // namespace kyutai
