#include <gtest/gtest.h>

#include "lm_fixture.h"

#include <map>

#include "test_util.h"

namespace kyutai::test {

LmFixture& lm_fixture(const std::string& dir) {
  static std::map<std::string, std::unique_ptr<LmFixture>> cache;
  auto& f = cache[dir];
  if (!f) {
    f = std::make_unique<LmFixture>();
    f->config = LmConfig::parse(read_text(data_path(dir + "/config.json")));
    auto bytes = read_file(data_path(dir + "/weights.safetensors"));
    f->model = load_lm(f->config, bytes.data(), bytes.size());
  }
  return *f;
}

std::vector<std::string> lm_checkpoints() {
  return {"lm", "lm-variants/v1_layernorm_sin_plainffn", "lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux",
          "lm-variants/v3_layernormf32_ropeconcat_textcardout"};
}

std::string checkpoint_name(const ::testing::TestParamInfo<std::string>& info) {
  const std::string& n = info.param;
  if (n.rfind("lm-variants/", 0) == 0) return n.substr(12, 2);
  return n;
}

const Mimi& mimi_fixture() {
  static std::unique_ptr<Mimi> model = [] {
    auto bytes = read_file(data_path("mimi/weights.safetensors"));
    return load_mimi(MimiConfig::parse(read_text(data_path("mimi/config.json"))), bytes.data(), bytes.size());
  }();
  return *model;
}

TtsFixture& tts_fixture(const std::string& variant) {
  static std::map<std::string, std::unique_ptr<TtsFixture>> cache;
  auto& f = cache[variant];
  if (!f) {
    f = std::make_unique<TtsFixture>();
    f->config = LmConfig::parse(read_text(data_path("tts/config" + variant + ".json")));
    auto bytes = read_file(data_path("tts/weights" + variant + ".safetensors"));
    f->model = load_lm(f->config, bytes.data(), bytes.size());
    auto voice = read_file(data_path("tts/voice_a.safetensors"));
    f->voice = load_voice(voice.data(), voice.size());
  }
  return *f;
}

const SentencePiece& tts_tokenizer() {
  static SentencePiece tokenizer = [] {
    auto bytes = read_file(data_path("tts/tokenizer.model"));
    return SentencePiece::load(bytes.data(), bytes.size());
  }();
  return tokenizer;
}

GenerationParams sampled_params(uint64_t seed) {
  GenerationParams p;
  p.text = {true, 0.7f, 25};
  p.audio = {true, 0.8f, 10};
  p.seed = seed;
  return p;
}

}  // namespace kyutai::test
