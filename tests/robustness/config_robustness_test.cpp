// Hostile config.json files (LM and Mimi): missing keys, wrong types, absurd sizes that
// would exhaust memory (refused before anything is allocated, naming the limit), malformed
// JSON. The conformance configs still parse after all of it.
#include <gtest/gtest.h>

#include <string>

#include "codec/mimi_config.h"
#include "lm/lm_config.h"
#include "robustness/robustness_util.h"
#include "test_util.h"

namespace kyutai {
namespace {

constexpr ErrorCode kBad = ErrorCode::InvalidConfig;
constexpr ErrorCode kLimit = ErrorCode::LimitExceeded;

// The STT conformance config with `edit` spliced in: keys given here override it (later
// duplicates win, as with Python's json).
std::string stt_with(const std::string& edit) {
  std::string text = test::read_text(test::data_path("stt/config.json"));
  size_t close = text.rfind('}');
  return text.substr(0, close) + ", " + edit + "}";
}
std::string mimi_with(const std::string& section, const std::string& edit) {
  std::string text = test::read_text(test::data_path("mimi/config.json"));
  if (section.empty()) return text.substr(0, text.rfind('}')) + ", " + edit + "}";
  // Appended at the end of the section (sections hold no nested object): later keys win.
  size_t at = text.find("\"" + section + "\": {");
  EXPECT_NE(at, std::string::npos);
  size_t close = text.find('}', at);
  return text.substr(0, close) + ", " + edit + text.substr(close);
}

void lm(const std::string& text) { LmConfig::parse(text); }
void mimi(const std::string& text) { MimiConfig::parse(text); }

TEST(RobustConfig, MalformedJson) {
  EXPECT_KYUTAI_ERROR(lm("<html>not json</html>"), kBad,
                      "config.json: invalid JSON at byte 0: unexpected character '<'");
  EXPECT_KYUTAI_ERROR(lm("[1, 2]"), kBad, "config.json: expected a JSON object, got array");
  EXPECT_KYUTAI_ERROR(lm("{\"dim\": 64,"), kBad, "config.json: invalid JSON at byte 11: expected a string key");
  EXPECT_KYUTAI_ERROR(lm("{\"model_type\": \"\xe9t\xe9\"}"), kBad,
                      "config.json: invalid JSON at byte 16: invalid UTF-8 in string");
  EXPECT_KYUTAI_ERROR(lm(std::string(1000, '[') + std::string(1000, ']')), kLimit,
                      "config.json: JSON nesting deeper than the limit of 16 levels");
  EXPECT_KYUTAI_ERROR(lm("{\"model_type\": \"" + std::string(1 << 20, 'x') + "\"}"), kLimit,
                      "config.json: JSON document of 1048594 bytes exceeds the limit of 1048576 bytes");
  EXPECT_KYUTAI_ERROR(mimi("{\"sample_rate\": 24000"), kBad,
                      "mimi config.json: invalid JSON at byte 21: expected ',' or '}'");
}

TEST(RobustConfig, MissingKeysAndWrongTypes) {
  EXPECT_KYUTAI_ERROR(lm("{\"num_layers\": 2}"), kBad, "config.json: 'dim' is required");
  EXPECT_KYUTAI_ERROR(lm("{\"dim\": 64}"), kBad, "config.json: 'num_layers' is required");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"dim\": \"64\"")), kBad, "config.json: 'dim' must be an integer, got string");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"num_layers\": 2.5")), kBad,
                      "config.json: 'num_layers' must be an integer, got 2.5");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"num_layers\": -1")), kBad, "config.json: 'num_layers' must be >= 0, got -1");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"dim\": 1e999")), kBad, "config.json: 'dim' must be an integer, got inf");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"hidden_scale\": true")), kBad,
                      "config.json: 'hidden_scale' must be a number, got boolean");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"causal\": \"yes\"")), kBad, "config.json: 'causal' must be a boolean, got string");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"norm\": 3")), kBad, "config.json: 'norm' must be a string, got number");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"delays\": {\"a\": 1}")), kBad,
                      "config.json: 'delays' must be an integer or a list of integers, got object");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"delays\": [0, 0]")), kBad,
                      "config.json: 'delays' has 2 entries, expected n_q + 1 = 9");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"lm_gen_config\": []")), kBad,
                      "config.json: 'lm_gen_config' must be an object, got array");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"lm_gen_config\": {\"top_k\": \"all\"}")), kBad,
                      "config.json lm_gen_config: 'top_k' must be an integer, got string");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"norm\": \"batch_norm\"")), kBad,
                      "config.json: 'norm' ValueError: Unknown norm type: batch_norm");
  EXPECT_KYUTAI_ERROR(mimi("{}"), kBad, "mimi config.json: 'sample_rate' is required");
  EXPECT_KYUTAI_ERROR(mimi("{\"sample_rate\": 24000, \"frame_rate\": 12.5}"), kBad,
                      "mimi config.json: 'seanet' is required");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("", "\"seanet\": [1]")), kBad,
                      "mimi config.json: 'seanet' must be an object, got array");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("seanet", "\"ratios\": \"8654\"")), kBad,
                      "mimi config.json seanet: 'ratios' must be an integer or a list of integers, got string");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("transformer", "\"d_model\": null")), kBad,
                      "mimi config.json transformer: 'd_model' is required");
}

TEST(RobustConfig, AbsurdSizesAreRefusedBeforeAllocation) {
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"dim\": 1e9")), kLimit,
                      "config.json: 'dim' = 1e+09 exceeds the limit of 16384 (kyutai-wasm config limit for 'dim')");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"text_card\": 2147483647")), kLimit,
                      "config.json: 'text_card' = 2.14748e+09 exceeds the limit of 1.04858e+06 (kyutai-wasm config "
                      "limit for 'text_card')");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"num_layers\": 100000")), kLimit,
                      "config.json: 'num_layers' = 100000 exceeds the limit of 512 (kyutai-wasm config limit for "
                      "'num_layers')");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"n_q\": 100000")), kLimit,
                      "config.json: 'n_q' = 100000 exceeds the limit of 128 (kyutai-wasm config limit for 'n_q')");
  std::string many = "0";
  for (int i = 0; i < 199; ++i) many += ",0";
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"delays\": [" + many + "]")), kLimit,
                      "config.json: 'delays (length)' = 200 exceeds the limit of 129 (kyutai-wasm config limit for "
                      "'delays (length)')");
  // Each size inside its own limit, together far too big.
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"dim\": 16384, \"num_heads\": 128, \"num_layers\": 512")), kLimit,
                      "config.json: the configuration implies 1683.63e9 parameters, beyond the limit of 40e9 "
                      "(kyutai-wasm kMaxParameters)");
  EXPECT_KYUTAI_ERROR(lm(stt_with("\"dim\": 4096, \"num_heads\": 32, \"num_layers\": 32, \"context\": 1048576")),
                      kLimit,
                      "config.json: a KV cache of 32 layers x context 1048576 needs 1.04858e+06 MiB, beyond the "
                      "limit of 4096 MiB");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("seanet", "\"ratios\": [64, 64, 64, 64]")), kLimit,
                      "mimi config.json seanet: 'ratios (product)' = 1.67772e+07 exceeds the limit of 262144 "
                      "(kyutai-wasm config limit for 'ratios (product)')");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("seanet", "\"n_filters\": 4096")), kLimit,
                      "mimi config.json seanet: 'n_filters * 2^len(ratios)' = 16384 exceeds the limit of 8192 "
                      "(kyutai-wasm config limit for 'n_filters * 2^len(ratios)')");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("quantizer", "\"bins\": 1e7")), kLimit,
                      "mimi config.json quantizer: 'bins' = 1e+07 exceeds the limit of 65536 (kyutai-wasm config "
                      "limit for 'bins')");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("", "\"sample_rate\": 1e12")), kLimit,
                      "mimi config.json: 'sample_rate' = 1e+12 exceeds the limit of 384000 (kyutai-wasm config "
                      "limit for 'sample_rate')");
  EXPECT_KYUTAI_ERROR(mimi(mimi_with("quantizer", "\"n_q\": 128, \"bins\": 65536, \"dimension\": 8192")), kLimit,
                      "mimi config.json: the configuration implies 68720.6e6 parameters, beyond the limit of 2000e6");
}

TEST(RobustConfig, ConformanceConfigsStillParse) {
  for (const char* dir : {"lm", "stt"})
    EXPECT_NO_THROW(lm(test::read_text(test::data_path(std::string(dir) + "/config.json"))));
  EXPECT_NO_THROW(mimi(test::read_text(test::data_path("mimi/config.json"))));
}

}  // namespace
}  // namespace kyutai
