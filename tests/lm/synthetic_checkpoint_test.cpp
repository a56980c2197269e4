// Synthetic checkpoints of Kyutai's TTS (tools/kyutai_synth): the exact tensor names and shapes
// of the released format, checked against the conformance model Kyutai's own code wrote, and the
// full-size config (tools/configs/tts-1.6b-en_fr.json) with the release's shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "lm/footprint.h"
#include "lm/lm_model.h"
#include "lm/synthetic_checkpoint.h"
#include "test_util.h"

namespace kyutai {
namespace {

std::map<std::string, std::vector<int64_t>> shapes_of(const std::vector<TensorInfo>& tensors) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const TensorInfo& t : tensors) out[t.name] = t.shape;
  return out;
}

LmConfig full_size_tts() {
  const std::string path = test::data_path("../../tools/configs/tts-1.6b-en_fr.json");
  return LmConfig::parse(test::read_text(path), path);
}

TEST(SyntheticCheckpoint, TtsHasTheNamesAndShapesOfKyutaisStateDict) {
  const std::vector<uint8_t> reference = test::read_file(test::data_path("tts/weights.safetensors"));
  const SafetensorsHeader header = SafetensorsFile(reference.data(), reference.size()).header();
  const LmConfig c = LmConfig::parse(test::read_text(test::data_path("tts/config.json")));
  EXPECT_EQ(shapes_of(synthetic_lm_tensors(c, DType::F32)), shapes_of(header.tensors));
  EXPECT_EQ(header.tensors.size(), 125u);

  // The synthetic file loads, and conditions on a synthetic voice of the conditioner's width.
  const std::vector<uint8_t> file = synthetic_lm_safetensors(c, DType::BF16, 7);
  LoadOptions o;
  o.use_xnnpack = false;
  auto model = load_lm(c, file.data(), file.size(), o);
  const WeightLoader::Expected voice = synthetic_voice_tensor(c, 10);
  EXPECT_EQ(voice.name, "speaker_wavs");
  EXPECT_EQ(voice.shape, (std::vector<int64_t>{1, 32, 10}));
}

TEST(SyntheticCheckpoint, FullSizeTtsHasTheReleasedShapes) {
  const LmConfig c = full_size_tts();
  EXPECT_EQ(c.model_type, "tts");
  ASSERT_TRUE(c.tts_config.has_value());
  EXPECT_EQ(c.tts_config->delay_steps(), 16);  // 1.28 s at 12.5 Hz
  const auto shapes = shapes_of(synthetic_lm_tensors(c, DType::BF16));
  auto shape = [&](const std::string& name) {
    auto it = shapes.find(name);
    return it == shapes.end() ? std::vector<int64_t>{} : it->second;
  };
  using S = std::vector<int64_t>;
  EXPECT_EQ(shape("condition_provider.conditioners.speaker_wavs.output_proj.weight"), (S{2048, 512}));
  EXPECT_EQ(shape("condition_provider.conditioners.cfg.embed.weight"), (S{8, 16}));
  EXPECT_EQ(shape("condition_provider.conditioners.control.embed.weight"), (S{2, 2048}));
  EXPECT_EQ(shape("condition_provider.conditioners.control.learnt_padding"), (S{1, 1, 2048}));
  EXPECT_EQ(shape("transformer.layers.15.cross_attention.in_projs.0.weight"), (S{6144, 2048}));
  EXPECT_EQ(shape("transformer.layers.15.norm_cross.bias"), (S{2048}));
  EXPECT_EQ(shape("transformer.layers.0.gating.linear_in.weight"), (S{11264, 2048}));
  EXPECT_EQ(shape("text_emb.out2.weight"), (S{2048, 2048}));
  EXPECT_EQ(shape("text_linear.weight"), (S{8000, 2048}));
  // The Depformer: 11 weight sets (8 own, then 3 shared by 8 positions each), 32 heads.
  EXPECT_EQ(shape("depformer_in.10.weight"), (S{1024, 2048}));
  EXPECT_TRUE(shape("depformer_in.11.weight").empty());
  EXPECT_EQ(shape("depformer.layers.3.self_attn.in_projs.10.weight"), (S{3072, 1024}));
  EXPECT_EQ(shape("depformer.layers.3.gating.10.linear_in.weight"), (S{4096, 1024}));
  EXPECT_EQ(shape("depformer_emb.30.low_rank.weight"), (S{1024, 128}));
  EXPECT_EQ(shape("linears.31.weight"), (S{2048, 1024}));
  EXPECT_EQ(synthetic_voice_tensor(c, 125).shape, (S{1, 512, 125}));

  // It fits the 4 GB WebAssembly heap at q8 and q4 (not in bf16 with its KV cache and load buffer).
  SafetensorsHeader h;
  h.tensors = synthetic_lm_tensors(c, DType::BF16);
  const uint64_t bf16_bytes = h.tensors.back().end;
  EXPECT_GT(bf16_bytes, uint64_t(3.4e9));
  EXPECT_LT(bf16_bytes, uint64_t(4.0e9));
  for (WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    SCOPED_TRACE(weight_format_name(f));
    EXPECT_LT(estimate_lm_footprint(c, h, f).total(), uint64_t(3) << 30);
  }
}

// The message of the error a voice request raises ("" when none).
std::string voice_error(const std::string& config_dir, int frames) {
  const LmConfig c = LmConfig::parse(test::read_text(test::data_path(config_dir + "/config.json")));
  try {
    synthetic_voice_tensor(c, frames);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    return e.what();
  }
  return "";
}

TEST(SyntheticCheckpoint, AVoiceNeedsASpeakerConditioner) {
  EXPECT_NE(voice_error("stt", 10).find("no speaker_wavs tensor conditioner"), std::string::npos);
  EXPECT_NE(voice_error("tts", 0).find("1 to 1048576 frames, got 0"), std::string::npos);
  EXPECT_EQ(voice_error("tts", 10), "");
}

}  // namespace
}  // namespace kyutai
