// The multiply-add count of a streaming Mimi frame (codec/mimi_cost.h): a tiny config counted
// by hand, and the layer list checked against the weights the model itself declares.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "codec/mimi.h"
#include "codec/mimi_cost.h"
#include "test_util.h"

namespace kyutai {
namespace {

// 8-sample frames (100 Hz / 12.5), hop 4 (ratios 2 2), so two encoder steps per frame; a 1x1
// shortcut in each residual block (true_skip false); 1 semantic + 2 acoustic codebooks of 5.
const char* kTinyConfig = R"({
  "sample_rate": 100, "channels": 1, "frame_rate": 12.5,
  "seanet": {"channels": 1, "dimension": 8, "causal": true, "n_filters": 2, "n_residual_layers": 1,
             "activation": "ELU", "compress": 2, "dilation_base": 2, "kernel_size": 3, "residual_kernel_size": 3,
             "last_kernel_size": 3, "norm": "none", "pad_mode": "constant", "ratios": [2, 2], "true_skip": false},
  "quantizer": {"dimension": 4, "n_q": 3, "bins": 5, "input_dimension": 8, "output_dimension": 8},
  "transformer": {"d_model": 8, "num_heads": 2, "num_layers": 1, "causal": true, "layer_scale": 0.01,
                  "context": 3, "conv_layout": true, "gating": "none", "norm": "layer_norm",
                  "positional_embedding": "rope", "dim_feedforward": 16, "input_dimension": 8,
                  "output_dimensions": [8]}
})";

// Counted by hand (rows out x out channels x in channels per group x kernel for a convolution,
// rows in x in x out per group x kernel for a transposed one):
//   SEANet encoder: conv 8x2x1x3 = 48; stage width 2 on 8 rows: block 8x1x2x3 = 48, 8x2x1 = 16,
//   shortcut 8x2x2 = 32, down 4x4x2x4 = 128; stage width 4 on 4 rows: 4x2x4x3 = 96, 4x4x2 = 32,
//   4x4x4 = 64, down 2x8x4x4 = 256; last 2x8x8x3 = 384. Sum 1104.
//   Transformer, per step: q k v 8x24 = 192, out 64, feed-forward 2x8x16 = 256 (512), plus
//   attention 2 x keys x 8; frame 0 = positions 0 and 1 (1 and 2 keys): 1024 + 16 + 32 = 1072.
//   Downsample 1x8x8x4 = 256. RVQ: input projections 8x4 = 32 each, search 1x5x4 = 20 and 2x5x4 = 40.
constexpr int64_t kSeanet = 1104, kTransformerFrame0 = 1072, kDownsample = 256, kRvqEncode = 32 + 20 + 32 + 40;
//   Decode: output projections 4x8 = 32 each; channel-wise upsample 1x8x1x4 = 32; transformer
//   1072; SEANet decoder: conv 2x8x8x3 = 384, convtr 2x8x4x4 = 256, block at 4 on 4 rows
//   96 + 32 + 64, convtr 4x4x2x4 = 128, block at 2 on 8 rows 48 + 16 + 32, last 8x1x2x3 = 48: 1104.
constexpr int64_t kRvqDecode = 64, kUpsample = 32;

TEST(MimiCost, TinyConfigMatchesAHandCount) {
  const MimiConfig config = MimiConfig::parse(kTinyConfig, "tiny");
  const MimiFrameCost cost = mimi_frame_cost(config, 0);
  EXPECT_EQ(cost.encode_macs(), kSeanet + kTransformerFrame0 + kDownsample + kRvqEncode);
  EXPECT_EQ(cost.decode_macs(), kRvqDecode + kUpsample + kTransformerFrame0 + kSeanet);
  ASSERT_EQ(cost.encode.size(), 16u);  // 10 SEANet convs, transformer, downsample, 2 x (projection, search)
  EXPECT_EQ(cost.encode[4].name, "encoder.model.3.conv.conv");  // 0 conv, 1 block, 2 ELU, 3 downsample
  EXPECT_EQ(cost.encode[4].macs, 128);
  EXPECT_EQ(cost.encode[10].op, MimiLayerCost::Op::Transformer);
  EXPECT_EQ(cost.encode[10].macs, kTransformerFrame0);
}

TEST(MimiCost, AttentionGrowsUntilTheWindowIsFull) {
  const MimiConfig config = MimiConfig::parse(kTinyConfig, "tiny");
  // Frame 5: positions 10 and 11 both attend to the whole window of 3 keys: 1024 + 2 x 48.
  const int64_t full = 1024 + 96;
  EXPECT_EQ(mimi_frame_cost(config, 5).encode_macs(), kSeanet + full + kDownsample + kRvqEncode);
  EXPECT_EQ(mimi_frame_cost(config, 5).decode_macs(), mimi_frame_cost(config, 500).decode_macs());
  EXPECT_LT(mimi_frame_cost(config, 0).decode_macs(), mimi_frame_cost(config, 1).decode_macs());
}

// Every convolution of the list is a layer the model declares, with the declared shape: the
// count follows the network, not a copy of it.
void expect_layers_match_the_model(const MimiConfig& config) {
  Mimi mimi(config, LoadOptions{});
  WeightLoader loader{LoadOptions{}};
  mimi.declare_weights(loader);
  std::map<std::string, std::vector<int64_t>> declared;
  for (const auto& e : loader.expected()) declared[e.name] = e.shape;
  const MimiFrameCost cost = mimi_frame_cost(config, 0);
  auto numel = [](const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  };
  int convs = 0;
  for (const auto* part : {&cost.encode, &cost.decode}) {
    for (const MimiLayerCost& l : *part) {
      if (l.op != MimiLayerCost::Op::Conv1d && l.op != MimiLayerCost::Op::ConvTranspose1d) {
        // A transformer or codebook set reads its matrices: the 2-D tensors under its name.
        int64_t matrices = 0;
        for (const auto& [name, shape] : declared)
          if (name.rfind(l.name + ".", 0) == 0 && shape.size() == 2) matrices += numel(shape);
        EXPECT_EQ(l.weights, matrices) << l.name;
        continue;
      }
      ++convs;
      auto found = declared.find(l.name + ".weight");
      ASSERT_NE(found, declared.end()) << l.name;
      const bool transposed = l.op == MimiLayerCost::Op::ConvTranspose1d;
      const std::vector<int64_t> shape = transposed
                                             ? std::vector<int64_t>{l.in_channels, l.out_channels / l.groups, l.kernel}
                                             : std::vector<int64_t>{l.out_channels, l.in_channels / l.groups, l.kernel};
      EXPECT_EQ(found->second, shape) << l.name;
      EXPECT_EQ(l.weights, numel(shape)) << l.name;
    }
  }
  int declared_convs = 0;
  for (const auto& [name, shape] : declared)
    declared_convs += shape.size() == 3 && name.find("weight") != std::string::npos;
  EXPECT_EQ(convs, declared_convs);
}

TEST(MimiCost, TheRvqSearchReadsTwoBytesPerCodebookValueAndTheRestFour) {
  const MimiFrameCost cost = mimi_frame_cost(MimiConfig::parse(released_mimi_config_json(), "released"), 0);
  int64_t bytes = 0, searches = 0;
  for (const MimiLayerCost& l : cost.encode) {
    const bool search = l.op == MimiLayerCost::Op::RvqSearch;
    searches += search;
    EXPECT_EQ(l.weight_bytes(), l.weights * (search ? 2 : 4)) << l.name;
    bytes += l.weight_bytes();
  }
  EXPECT_EQ(searches, 2);  // rvq_first and rvq_rest
  EXPECT_EQ(cost.encode_weight_bytes(), bytes);
  EXPECT_LT(cost.encode_weight_bytes(), 4 * cost.encode_weights());
  EXPECT_EQ(cost.decode_weight_bytes(), 4 * cost.decode_weights());
}

TEST(MimiCost, LayersAreTheModelsOwn) {
  expect_layers_match_the_model(MimiConfig::parse(kTinyConfig, "tiny"));
  expect_layers_match_the_model(MimiConfig::parse(released_mimi_config_json(), "released"));
}

TEST(MimiCost, ReleasedMimiFrame) {
  const MimiFrameCost cost = mimi_frame_cost(MimiConfig::parse(released_mimi_config_json(), "released"), 0);
  // SEANet encoder at 1920 samples, e.g. the first residual block's conv: 1920 x 32 x 64 x 3.
  EXPECT_EQ(cost.encode[1].macs, 1920 * 32 * 64 * 3);
  // RVQ search: 32 codebooks of 2048 x 256.
  int64_t search = 0;
  for (const auto& l : cost.encode) search += l.op == MimiLayerCost::Op::RvqSearch ? l.macs : 0;
  EXPECT_EQ(search, int64_t(32) * 2048 * 256);
  EXPECT_GT(cost.encode_macs(), 200'000'000);
  EXPECT_LT(cost.encode_macs(), 300'000'000);
}

}  // namespace
}  // namespace kyutai
