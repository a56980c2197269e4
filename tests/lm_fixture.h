#include <gtest/gtest.h>
// Conformance checkpoints loaded once per test binary.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codec/mimi.h"
#include "lm/conditioners.h"
#include "lm/lm_gen.h"
#include "lm/lm_model.h"
#include "text/sentencepiece.h"

namespace kyutai::test {

struct LmFixture {
  LmConfig config;
  std::unique_ptr<LmModel> model;
};

// dir: "lm", "stt" or "lm-variants/<name>". Loaded with the default options.
LmFixture& lm_fixture(const std::string& dir);
// The four generation checkpoints: lm and every lm-variant.
std::vector<std::string> lm_checkpoints();
std::string checkpoint_name(const ::testing::TestParamInfo<std::string>& info);
// The tiny Mimi of tests/data/mimi, loaded once.
const Mimi& mimi_fixture();
// The TTS conformance model of tests/data/tts ("" or "_nocfg": config<variant>.json and
// weights<variant>.safetensors) with voice_a, and its tokenizer, loaded once.
struct TtsFixture {
  LmConfig config;
  std::unique_ptr<LmModel> model;
  Voice voice;
};
TtsFixture& tts_fixture(const std::string& variant = "");
const SentencePiece& tts_tokenizer();
// Sampled generation (text 0.7, top 25; audio 0.8, top 10) from `seed`.
GenerationParams sampled_params(uint64_t seed);

}  // namespace kyutai::test
