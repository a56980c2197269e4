// Quantization accuracy on synthetic matrices (issue 31 item 5): the test asserts these figures
// and the bench prints them, both through this one measurement.
//
// Weights: sigma 0.02 from a Gaussian, a Student-t(4) (heavy tails, like trained checkpoints), or a
// Gaussian whose 1% of input channels are 20x larger. Activations for the GEMV error: Gaussian with
// 0.5% of the channels 30x larger. All from fixed seeds, so every build sees the same numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/packed_matrix.h"

namespace kyutai {

// The block formats of quant_blocks.h.
enum class BlockFormat { Q8_0, Q4_K };
const char* block_format_name(BlockFormat f);

enum class WeightDistribution { Gauss, StudentT4, OutlierChannels };
const char* weight_distribution_name(WeightDistribution d);

// w [out, in] row-major.
std::vector<float> synthetic_weights(WeightDistribution d, int out, int in, uint64_t seed);
std::vector<float> outlier_activations(int in, uint64_t seed);

struct QuantAccuracy {
  double weight_rmse = 0;  // ||W - Wq|| / ||W|| over the matrix
  double gemv_rmse = 0;    // ||W x - product|| / ||W x|| with outlier activations x
};

// Engine: quant_blocks.h (searched Q4_K codes, per-32 8-bit activations). GgmlReference: the
// schemes of the table re-implemented on the same data as a yardstick: Q8_0 with Q8_0
// activations; Q4_K by ggml's reference search (make_qkx2: weights |x| + rms, 21 grids, one
// pass, codes rounded) with Q8_K activations (one scale per 256, -128..127).
enum class QuantMethod { Engine, GgmlReference };

// Quantizes a synthetic matrix in `format` (rows padded with zeros to whole blocks), compares its
// dequantized weights with the originals and its integer products with 4 outlier activation
// vectors (sum over blocks of activation scale x weight scale x integer dot, less the Q4_K min
// term) with the exact products, in double. The GEMV error with outlier-channel weights depends
// on where the two kinds of outlier channels fall, so the tests hold it against GgmlReference on
// the same data rather than against the table.
QuantAccuracy measure_quant_accuracy(BlockFormat format, WeightDistribution d, int out, int in,
                                     QuantMethod method = QuantMethod::Engine);

// The same measurement through the engine's packed matrices and products (pack_matrix_f32,
// unpack_row, gemm with the per-32 8-bit activations of gemm.h): what a model loaded in
// `format` computes. q8 is Q8_0; q4 is Q4_K, searched with `q4_search_steps` scales per block.
QuantAccuracy measure_packed_accuracy(WeightFormat format, WeightDistribution d, int out, int in,
                                      int q4_search_steps = quant::kQ4KSearchSteps);

// The table (ggml: Q8_0 x Q8_0 activations, Q4_K x Q8_K) within 2%:
// {weights, GEMV with outlier activations} per distribution.
QuantAccuracy quant_accuracy_bound(BlockFormat format, WeightDistribution d);

}  // namespace kyutai
