// MimiConfig parsing (Kyutai's `_mimi_config` keys, defaults, limits, error messages) and
// Mimi loading (whole file, tensor by tensor, bad checkpoints).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "codec/mimi.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace kyutai {
namespace {

std::string fixture_config() { return test::read_text(test::data_path("mimi/config.json")); }

// The fixture config with `edit` applied to its text (first occurrence of `from`).
std::string edited(const std::string& from, const std::string& to) {
  std::string text = fixture_config();
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

struct Failure {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

Failure failure_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  ADD_FAILURE() << "expected a kyutai::Error";
  return {};
}

void expect_config_error(const std::string& text, ErrorCode code, const std::string& mention) {
  Failure f = failure_of([&] { MimiConfig::parse(text); });
  EXPECT_EQ(f.code, code) << f.message;
  EXPECT_NE(f.message.find(mention), std::string::npos) << f.message;
}

TEST(MimiConfig, ParsesTheConformanceConfig) {
  MimiConfig c = MimiConfig::parse(fixture_config());
  EXPECT_EQ(c.sample_rate, 24000);
  EXPECT_EQ(c.seanet.dimension, 32);
  EXPECT_EQ(c.seanet.n_filters, 4);
  EXPECT_EQ(c.seanet.ratios, (std::vector<int>{8, 6, 5, 4}));
  EXPECT_EQ(c.seanet.hop_length(), 960);
  EXPECT_EQ(c.frame_size(), 1920);
  EXPECT_EQ(c.encoder_steps_per_frame(), 2);
  EXPECT_EQ(c.quantizer.n_q, 8);
  EXPECT_EQ(c.quantizer.bins, 32);
  EXPECT_EQ(c.quantizer.n_q_semantic, 1);
  EXPECT_EQ(c.transformer.context, 8);
  EXPECT_EQ(c.transformer.dim_feedforward, 128);
  TransformerConfig t = c.transformer.transformer();
  EXPECT_EQ(t.norm, NormKind::LayerNorm);
  EXPECT_EQ(t.positional.kind, PosEmb::Rope);
  EXPECT_FALSE(t.gated);
  ASSERT_TRUE(t.layer_scale.has_value());
}

TEST(MimiConfig, ParsesKyutaisReleasedConfig) {
  MimiConfig c = MimiConfig::parse(released_mimi_config_json());
  EXPECT_EQ(c.frame_size(), 1920);
  EXPECT_DOUBLE_EQ(c.encoder_frame_rate(), 25.0);
  EXPECT_EQ(c.num_codebooks(), 32);
  EXPECT_EQ(c.quantizer.bins, 2048);
  EXPECT_EQ(c.transformer.context, 250);
  // The model of that size can be built (weights not loaded).
  Mimi model(c, LoadOptions{});
  EXPECT_EQ(model.frame_size(), 1920);
  EXPECT_EQ(model.num_codebooks(), 32);
  EXPECT_EQ(model.cardinality(), 2048);
}

TEST(MimiConfig, RefusesWhatKyutaiRefuses) {
  expect_config_error(edited("\"pad_mode\": \"constant\"", "\"pad_mode\": \"reflect\""), ErrorCode::InvalidConfig,
                      "pad_mode");
  expect_config_error(edited("\"causal\": true", "\"causal\": false"), ErrorCode::InvalidConfig, "causal");
  expect_config_error(edited("\"n_q\": 8", "\"n_q\": 1"), ErrorCode::InvalidConfig, "n_q_semantic");
  expect_config_error(edited("\"gating\": \"none\"", "\"gating\": \"swish\""), ErrorCode::InvalidConfig, "gating");
  expect_config_error(edited("\"norm\": \"layer_norm\"", "\"norm\": \"batch_norm\""), ErrorCode::InvalidConfig,
                      "Unknown norm type");
  expect_config_error(edited("\"num_heads\": 2", "\"num_heads\": 3"), ErrorCode::InvalidConfig, "num_heads");
}

TEST(MimiConfig, RefusesInconsistentSizes) {
  expect_config_error(edited("\"frame_rate\": 12.5", "\"frame_rate\": 7"), ErrorCode::InvalidConfig, "frame_rate");
  expect_config_error(edited("\"frame_rate\": 12.5", "\"frame_rate\": 40"), ErrorCode::InvalidConfig,
                      "not a multiple of the SEANet hop");
  // The quantizer's input_dimension (the first one in the file).
  expect_config_error(edited("\"input_dimension\": 32,\n    \"output_dimension\"",
                             "\"input_dimension\": 16,\n    \"output_dimension\""),
                      ErrorCode::InvalidConfig, "input_dimension");
  expect_config_error(edited("\"output_dimensions\": [\n      32\n    ]", "\"output_dimensions\": [16]"),
                      ErrorCode::InvalidConfig, "output_dimensions");
  expect_config_error(edited("\"sample_rate\": 24000,", ""), ErrorCode::InvalidConfig, "sample_rate");
  expect_config_error(edited("\"ratios\": [", "\"ratios\": 7, \"x\": ["), ErrorCode::InvalidConfig, "frame_rate");
  expect_config_error("{\"sample_rate\": 24000", ErrorCode::InvalidConfig, "mimi config.json");
}

TEST(MimiConfig, RefusesUnsupportedOptions) {
  expect_config_error(edited("\"norm\": \"none\"", "\"norm\": \"weight_norm\""), ErrorCode::Unsupported, "weight_norm");
  expect_config_error(edited("\"activation\": \"ELU\"", "\"activation\": \"ReLU\""), ErrorCode::Unsupported, "ELU");
  expect_config_error(edited("\"channels\": 1,\n  \"frame_rate\"", "\"channels\": 2,\n  \"frame_rate\""),
                      ErrorCode::Unsupported, "mono");
}

TEST(MimiConfig, RefusesSizesBeyondItsLimits) {
  expect_config_error(edited("\"dimension\": 32", "\"dimension\": 1000000"), ErrorCode::LimitExceeded, "dimension");
  expect_config_error(edited("\"bins\": 32", "\"bins\": 100000000"), ErrorCode::LimitExceeded, "bins");
  expect_config_error(edited("\"n_filters\": 4", "\"n_filters\": 4096"), ErrorCode::LimitExceeded, "n_filters");
  expect_config_error(edited("\"n_q\": 8", "\"n_q\": 1000"), ErrorCode::LimitExceeded, "n_q");
}

// --- loading -----------------------------------------------------------------------------

struct Checkpoint {
  MimiConfig config = MimiConfig::parse(fixture_config());
  std::vector<uint8_t> bytes = test::read_file(test::data_path("mimi/weights.safetensors"));
  SafetensorsFile file{bytes.data(), bytes.size()};
};

Checkpoint& checkpoint() {
  static Checkpoint c;
  return c;
}

std::vector<float> padded_input() { return test::tensor(test::vectors("mimi").at("input_wav_padded")).f; }

TEST(MimiLoader, TensorByTensorInAnyOrderLoadsTheSameModel) {
  Checkpoint& c = checkpoint();
  std::vector<TensorInfo> tensors = c.file.header().tensors;
  std::reverse(tensors.begin(), tensors.end());
  MimiLoader loader(c.config, LoadOptions{});
  for (const TensorInfo& t : tensors) loader.add_tensor(t, c.file.tensor_data(t));
  EXPECT_EQ(loader.tensors_loaded(), tensors.size());
  std::unique_ptr<Mimi> model = loader.finish();
  std::vector<float> pcm = padded_input();
  MimiCodes codes = model->encode(pcm.data(), pcm.size(), 8);
  const test::VTensor expected = test::tensor(test::vectors("mimi").at("codes"));
  EXPECT_EQ(codes.data, std::vector<int32_t>(expected.i.begin(), expected.i.end()));
  EXPECT_EQ(failure_of([&] { loader.finish(); }).code, ErrorCode::InvalidState);
}

TEST(MimiLoader, ThreadsGiveTheSameResults) {
  Checkpoint& c = checkpoint();
  // The convolutions split their output channels over the pool. XNNPACK stays off here: each
  // of its linears owns a thread pool, which makes a tiny multi-threaded model crawl on few cores.
  LoadOptions options;
  options.threads = 3;
  options.use_xnnpack = false;
  std::unique_ptr<Mimi> threaded = load_mimi(c.config, c.bytes.data(), c.bytes.size(), options);
  options.threads = 1;
  std::unique_ptr<Mimi> single = load_mimi(c.config, c.bytes.data(), c.bytes.size(), options);
  std::vector<float> pcm = padded_input();
  MimiCodes a = threaded->encode(pcm.data(), pcm.size(), 8), b = single->encode(pcm.data(), pcm.size(), 8);
  EXPECT_EQ(a.data, b.data);
  std::vector<float> pcm_threaded = threaded->decode(a.data.data(), 8, a.frames);
  std::vector<float> pcm_single = single->decode(b.data.data(), 8, b.frames);
  EXPECT_LT(test::max_abs_diff(pcm_threaded, pcm_single), 1e-6);
}

TEST(MimiLoader, MissingTensorsAreNamed) {
  Checkpoint& c = checkpoint();
  MimiLoader loader(c.config, LoadOptions{});
  for (const TensorInfo& t : c.file.header().tensors)
    if (t.name != "upsample.convtr.convtr.convtr.weight" &&
        t.name != "quantizer.rvq_rest.vq.layers.6._codebook.cluster_usage")
      loader.add_tensor(t, c.file.tensor_data(t));
  Failure f = failure_of([&] { loader.finish(); });
  EXPECT_EQ(f.code, ErrorCode::InvalidCheckpoint);
  EXPECT_NE(f.message.find("missing 2 tensors"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("upsample.convtr.convtr.convtr.weight"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("rvq_rest.vq.layers.6._codebook.cluster_usage"), std::string::npos) << f.message;
}

TEST(MimiLoader, MisShapedAndUnknownTensorsAreNamed) {
  Checkpoint& c = checkpoint();
  const TensorInfo* conv = c.file.header().find("encoder.model.3.conv.conv.weight");
  ASSERT_NE(conv, nullptr);
  {
    MimiLoader loader(c.config, LoadOptions{});
    TensorInfo wrong = *conv;
    wrong.shape = {8, 4, 4};  // [8, 4, 8] in the checkpoint
    Failure f = failure_of([&] { loader.add_tensor(wrong, c.file.tensor_data(*conv)); });
    EXPECT_EQ(f.code, ErrorCode::InvalidCheckpoint);
    EXPECT_NE(f.message.find("encoder.model.3.conv.conv.weight"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("[8, 4, 8]"), std::string::npos) << f.message;
  }
  {
    MimiLoader loader(c.config, LoadOptions{});
    TensorInfo unknown = *conv;
    unknown.name = "encoder.model.99.conv.conv.weight";
    Failure f = failure_of([&] { loader.add_tensor(unknown, c.file.tensor_data(*conv)); });
    EXPECT_EQ(f.code, ErrorCode::InvalidCheckpoint);
    EXPECT_NE(f.message.find("encoder.model.99.conv.conv.weight"), std::string::npos) << f.message;
  }
  {
    // A config with fewer codebooks than the file: the extra codebooks are unexpected.
    MimiConfig fewer = MimiConfig::parse(edited("\"n_q\": 8", "\"n_q\": 4"));
    Failure f = failure_of([&] { load_mimi(fewer, c.bytes.data(), c.bytes.size()); });
    EXPECT_EQ(f.code, ErrorCode::InvalidCheckpoint);
    EXPECT_NE(f.message.find("rvq_rest.vq.layers.3"), std::string::npos) << f.message;
  }
}

}  // namespace
}  // namespace kyutai
