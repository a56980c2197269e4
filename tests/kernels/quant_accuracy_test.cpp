// Issue 31 item 5: the Q8_0 / Q4_K block formats reach ggml's accuracy on synthetic 2048x5632 and
// 5632x2048 matrices: weights within 2% of the table, and the GEMV with outlier
// activations within 2% of the table's schemes (ggml's reference search, Q8_K activations for
// Q4_K) on the same data, whose outlier-channel figures depend on the draw.
#include <gtest/gtest.h>

#include <cmath>

#include "io/dtype.h"
#include "kernels/quant_accuracy.h"
#include "kernels/quant_blocks.h"
#include "nn/weight_loader.h"

namespace kyutai {
namespace {

class QuantAccuracyTest : public ::testing::TestWithParam<std::tuple<BlockFormat, WeightDistribution>> {};

TEST_P(QuantAccuracyTest, ReachesGgmlFigures) {
  const auto [format, dist] = GetParam();
  const QuantAccuracy bound = quant_accuracy_bound(format, dist);
  for (auto [out, in] : {std::pair{2048, 5632}, std::pair{5632, 2048}}) {
    const QuantAccuracy got = measure_quant_accuracy(format, dist, out, in);
    const QuantAccuracy ggml = measure_quant_accuracy(format, dist, out, in, QuantMethod::GgmlReference);
    SCOPED_TRACE(testing::Message() << block_format_name(format) << " " << weight_distribution_name(dist) << " " << out
                                    << "x" << in << ": weights " << got.weight_rmse << " (ggml " << ggml.weight_rmse
                                    << "), gemv " << got.gemv_rmse << " (ggml " << ggml.gemv_rmse << ")");
    EXPECT_LE(got.weight_rmse, bound.weight_rmse);
    EXPECT_LE(got.weight_rmse, ggml.weight_rmse * 1.0001);
    EXPECT_LE(got.gemv_rmse, ggml.gemv_rmse * 1.02);
    EXPECT_GT(got.weight_rmse, 0.0);  // quantization loses something: the measurement sees it
  }
}

INSTANTIATE_TEST_SUITE_P(All, QuantAccuracyTest,
                         ::testing::Combine(::testing::Values(BlockFormat::Q8_0, BlockFormat::Q4_K),
                                            ::testing::Values(WeightDistribution::Gauss, WeightDistribution::StudentT4,
                                                              WeightDistribution::OutlierChannels)));

// What a model converted at load computes (pack_matrix, the per-32 activations of gemm.h, the
// kernels) meets the table's rows: q8 is Q8_0, its weights exactly the block quantizer's; q4 is
// Q4_K with the load's shorter search (LoadOptions::q4_search_steps; with the converter's full
// search its rows are the block quantizer's bit for bit, gemm_test.cpp). The GEMV stays within 2%
// of ggml's scheme on the same data.
class PackedAccuracy : public ::testing::TestWithParam<std::tuple<WeightFormat, WeightDistribution>> {};

TEST_P(PackedAccuracy, EngineFormatConvertedAtLoadMeetsTheTable) {
  const auto [format, dist] = GetParam();
  const BlockFormat scheme = format == WeightFormat::Q8 ? BlockFormat::Q8_0 : BlockFormat::Q4_K;
  const QuantAccuracy bound = quant_accuracy_bound(scheme, dist);
  for (auto [out, in] : {std::pair{2048, 5632}, std::pair{5632, 2048}}) {
    const QuantAccuracy packed = measure_packed_accuracy(format, dist, out, in, kQ4KLoadSearchSteps);
    const QuantAccuracy ggml = measure_quant_accuracy(scheme, dist, out, in, QuantMethod::GgmlReference);
    SCOPED_TRACE(testing::Message() << weight_format_name(format) << " " << weight_distribution_name(dist) << " " << out
                                    << "x" << in << ": weights " << packed.weight_rmse << ", gemv " << packed.gemv_rmse
                                    << " (ggml " << ggml.gemv_rmse << ")");
    if (format == WeightFormat::Q8)
      EXPECT_NEAR(packed.weight_rmse, measure_quant_accuracy(scheme, dist, out, in).weight_rmse, 1e-9);
    EXPECT_LE(packed.weight_rmse, bound.weight_rmse);
    EXPECT_LE(packed.gemv_rmse, ggml.gemv_rmse * 1.02);
    EXPECT_GT(packed.gemv_rmse, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(All, PackedAccuracy,
                         ::testing::Combine(::testing::Values(WeightFormat::Q8, WeightFormat::Q4),
                                            ::testing::Values(WeightDistribution::Gauss, WeightDistribution::StudentT4,
                                                              WeightDistribution::OutlierChannels)));

// A Q4_K super-block: codes in range, the dequantized block is what quantize_q4_k's search
// chose (a block of equal values is exact, a zero block stays zero).
TEST(QuantBlocks, Q4KCodesAndExactCases) {
  std::vector<float> w(quant::kSuperBlock), back(quant::kSuperBlock);
  for (int i = 0; i < quant::kSuperBlock; ++i) w[i] = std::sin(0.37f * float(i)) * (1 + i / 64);
  quant::Q4KSuper s;
  quant::quantize_q4_k(w.data(), &s);
  for (int b = 0; b < quant::kSubBlocks; ++b) {
    EXPECT_LE(s.sc[b], 63);
    EXPECT_LE(s.m[b], 63);
  }
  for (uint8_t q : s.q) EXPECT_LE(q, 15);
  quant::dequantize_q4_k(s, back.data());
  double err = 0, norm = 0;
  for (int i = 0; i < quant::kSuperBlock; ++i) err += (w[i] - back[i]) * (w[i] - back[i]), norm += w[i] * w[i];
  EXPECT_LT(std::sqrt(err / norm), 0.08);

  std::vector<float> zeros(quant::kSuperBlock, 0.0f);
  quant::quantize_q4_k(zeros.data(), &s);
  quant::dequantize_q4_k(s, back.data());
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

TEST(QuantBlocks, Q8_0AndActivations) {
  float w[quant::kBlock];
  for (int i = 0; i < quant::kBlock; ++i) w[i] = float(i - 16) * 0.01f;
  int8_t q[quant::kBlock];
  const float d = f16_to_f32(quant::quantize_q8_0(w, q));
  EXPECT_EQ(d, f16_to_f32(f32_to_f16(0.16f / 127.0f)));
  EXPECT_EQ(q[0], -127);  // the absmax maps to the end of the range
  for (int i = 0; i < quant::kBlock; ++i) EXPECT_NEAR(d * q[i], w[i], d / 2 + 1e-7f);

  int32_t sum = 0;
  const float scale = quant::quantize_activations(w, q, &sum);
  EXPECT_FLOAT_EQ(scale, 0.16f / 127.0f);
  int32_t expect = 0;
  for (int i = 0; i < quant::kBlock; ++i) expect += q[i];
  EXPECT_EQ(sum, expect);
  float zeros[quant::kBlock] = {};
  EXPECT_EQ(quant::quantize_activations(zeros, q, &sum), 1.0f);
  EXPECT_EQ(sum, 0);
}

}  // namespace
}  // namespace kyutai
