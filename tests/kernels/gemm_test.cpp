// Packed-weight matrix products: every format against a plain reference, SIMD128 against
// scalar (bit-identical by construction), threads against one thread, quantization bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/gemm_relaxed.h"
#include "kernels/packed_matrix.h"
#include "kernels/quant_blocks.h"
#include "test_util.h"

namespace kyutai {
namespace {

std::vector<float> random_matrix(int rows, int cols, uint64_t seed, float scale = 1.0f) {
  return test::uniform_floats(size_t(rows) * cols, seed, scale);
}

// y = W x in double precision from the *dequantized* packed weights (what the format holds).
std::vector<double> reference(const PackedMatrix& w, const std::vector<float>& x, int rows) {
  std::vector<double> y(size_t(rows) * w.out);
  std::vector<float> row(w.in);
  for (int o = 0; o < w.out; ++o) {
    unpack_row(w, o, row.data());
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int k = 0; k < w.in; ++k) s += double(row[k]) * x[size_t(r) * w.in + k];
      y[size_t(r) * w.out + o] = s;
    }
  }
  return y;
}

#ifdef __wasm_simd128__
// The SIMD128 and scalar products of `rows` activation rows, compared bit for bit.
void expect_simd128_equals_scalar(const PackedMatrix& m, const std::vector<float>& x, int rows) {
  if (m.format == WeightFormat::Q4 && m.q4_layout == Q4Layout::Bytes && !relaxed_simd_linked())
    return;  // only the relaxed-SIMD twin has a vector kernel for this layout
  QuantizedRows xq;
  const bool quantized = m.format == WeightFormat::Q8 || m.format == WeightFormat::Q4;
  if (quantized) quantize_rows(x.data(), rows, m.in, m.in_padded, activation_max(m.format), &xq);
  std::vector<float> a(size_t(rows) * m.out), b(a.size());
  simd128::gemm_panels(m, x.data(), quantized ? &xq : nullptr, rows, a.data(), 0, m.panels());
  scalar::gemm_panels(m, x.data(), quantized ? &xq : nullptr, rows, b.data(), 0, m.panels());
  EXPECT_EQ(a, b);
}
#endif

struct Shape {
  int out, in, rows;
};

class GemmFormats : public ::testing::TestWithParam<std::tuple<WeightFormat, Shape>> {};

TEST_P(GemmFormats, MatchesDequantizedReference) {
  auto [format, shape] = GetParam();
  auto w = random_matrix(shape.out, shape.in, 1);
  auto x = random_matrix(shape.rows, shape.in, 2);
  PackedMatrix m = pack_matrix_f32(format, shape.out, shape.in, w.data());
  std::vector<float> y(size_t(shape.rows) * shape.out);
  gemm(m, x.data(), shape.rows, y.data(), nullptr, nullptr);
  std::vector<double> ref = reference(m, x, shape.rows);
  // Float formats: summation order only. Quantized: integer activations add <= 1/(2 max_q) of
  // the block's max|x| per element, i.e. at most in * max|w| * max|x| / (2 max_q).
  const bool quantized = format == WeightFormat::Q8 || format == WeightFormat::Q4;
  const double tol = quantized ? shape.in * 0.5 / activation_max(format) + 1e-4 : 1e-4 * std::sqrt(double(shape.in));
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], tol) << "index " << i;
}

TEST_P(GemmFormats, QuantizationErrorIsBoundedByTheFormat) {
  auto [format, shape] = GetParam();
  auto w = random_matrix(shape.out, shape.in, 3);
  PackedMatrix m = pack_matrix_f32(format, shape.out, shape.in, w.data());
  std::vector<float> row(shape.in);
  double worst = 0, squares = 0;
  for (int o = 0; o < shape.out; ++o) {
    unpack_row(m, o, row.data());
    for (int k = 0; k < shape.in; ++k) {
      double d = std::fabs(row[k] - w[size_t(o) * shape.in + k]);
      worst = std::max(worst, d);
      squares += d * d;
    }
  }
  const double rms = std::sqrt(squares / (double(shape.out) * shape.in));
  // |w| <= 1. q8: half a step of the block's absmax (1/254), with the scale rounded to fp16
  // (relative 2^-11, times 127 steps at most). bf16: 2^-9 relative. q4: the scale and min are
  // least-squares choices per block, which may clip the extremes a little: bound the RMS error
  // by a third of a symmetric step (uniform rounding error is step / sqrt 12).
  if (format == WeightFormat::Q4) {
    EXPECT_LE(rms, 1.0 / 7 / 3);
    EXPECT_LE(worst, 0.25);
  } else {
    const double bound = format == WeightFormat::Q8     ? 0.5 / 127 + 1.0 / 2048
                         : format == WeightFormat::BF16 ? 1.0 / 256
                                                        : 0.0;
    EXPECT_LE(worst, bound + 1e-7);
  }
}

TEST_P(GemmFormats, ThreadsGiveTheSameResultAsOneThread) {
  auto [format, shape] = GetParam();
  auto w = random_matrix(shape.out, shape.in, 5);
  auto x = random_matrix(shape.rows, shape.in, 6);
  PackedMatrix m = pack_matrix_f32(format, shape.out, shape.in, w.data());
  std::vector<float> one(size_t(shape.rows) * shape.out), many(one.size());
  gemm(m, x.data(), shape.rows, one.data(), nullptr, nullptr);
  ThreadPool pool(3);
  gemm(m, x.data(), shape.rows, many.data(), nullptr, &pool);
  EXPECT_EQ(one, many);
}

TEST_P(GemmFormats, Simd128IsBitIdenticalToScalar) {
#ifndef __wasm_simd128__
  GTEST_SKIP() << "SIMD128 kernels exist only in the WebAssembly build";
#else
  auto [format, shape] = GetParam();
  auto w = random_matrix(shape.out, shape.in, 7);
  auto x = random_matrix(shape.rows, shape.in, 8, 3.0f);
  PackedMatrix m = pack_matrix_f32(format, shape.out, shape.in, w.data());
  expect_simd128_equals_scalar(m, x, shape.rows);
#endif
}

INSTANTIATE_TEST_SUITE_P(All, GemmFormats,
                         ::testing::Combine(::testing::Values(WeightFormat::F32, WeightFormat::BF16, WeightFormat::Q8,
                                                              WeightFormat::Q4),
                                            ::testing::Values(Shape{16, 32, 1}, Shape{37, 61, 3}, Shape{130, 600, 2},
                                                              Shape{5, 7, 1}, Shape{20, 517, 2},
                                                              // panels go in pairs from 64 KB: f32 from
                                                              // 1024 inputs, bf16 2048, q8 4096
                                                              Shape{40, 1030, 3}, Shape{40, 4100, 3})),
                         [](const auto& info) {
                           auto s = std::get<1>(info.param);
                           return std::string(weight_format_name(std::get<0>(info.param))) + "_" +
                                  std::to_string(s.out) + "x" + std::to_string(s.in) + "x" + std::to_string(s.rows);
                         });

void expect_same_packing(const PackedMatrix& a, const PackedMatrix& b) {
  ASSERT_EQ(a.data.bytes(), b.data.bytes());
  ASSERT_EQ(a.scales.bytes(), b.scales.bytes());
  EXPECT_EQ(std::memcmp(a.data.data(), b.data.data(), a.data.bytes()), 0);
  if (a.scales.bytes()) EXPECT_EQ(std::memcmp(a.scales.data(), b.scales.data(), a.scales.bytes()), 0);  // bf16: none
}

// Loading converts with the model's pool: each thread packs its own panels, to the same bytes.
TEST(Quantization, PackingOnAPoolGivesTheSameBytesAsOneThread) {
  ThreadPool pool(3);
  for (WeightFormat format : {WeightFormat::BF16, WeightFormat::Q8, WeightFormat::Q4})
    for (Shape shape : {Shape{16, 32, 1}, Shape{130, 600, 1}, Shape{37, 300, 1}}) {
      SCOPED_TRACE(testing::Message() << weight_format_name(format) << " " << shape.out << "x" << shape.in);
      auto w = random_matrix(shape.out, shape.in, 9);
      const Q4Layout layout = preferred_q4_layout();
      PackedMatrix one = pack_matrix_f32(format, shape.out, shape.in, w.data(), layout, 2);
      PackedMatrix many = pack_matrix_f32(format, shape.out, shape.in, w.data(), layout, 2, &pool);
      expect_same_packing(one, many);
    }
}

TEST(Quantization, PrequantizedExportRoundTripsExactly) {
  for (WeightFormat format : {WeightFormat::Q8, WeightFormat::Q4})
    for (Q4Layout layout : {Q4Layout::Lanes, Q4Layout::Bytes})
      for (Shape shape : {Shape{16, 32, 1}, Shape{37, 61, 1}, Shape{5, 7, 1}, Shape{20, 600, 1}}) {
        SCOPED_TRACE(testing::Message() << weight_format_name(format) << " " << q4_layout_name(layout) << " "
                                        << shape.out << "x" << shape.in);
        auto w = random_matrix(shape.out, shape.in, 4);
        PackedMatrix m = pack_matrix_f32(format, shape.out, shape.in, w.data(), layout);
        EXPECT_EQ(stored_scale_dtype(m), format == WeightFormat::Q8 ? DType::F16 : DType::U8);
        const std::vector<uint8_t> q = export_quantized_weight(m), s = export_quantized_scale(m);
        EXPECT_EQ(int64_t(s.size()), shape.out * stored_scale_columns(format, stored_scale_dtype(m), shape.in) *
                                         int64_t(dtype_size(stored_scale_dtype(m))));
        PackedMatrix back = pack_prequantized(format, shape.out, shape.in, q.data(), stored_scale_dtype(m), s.data(),
                                              layout);
        expect_same_packing(back, m);
      }
}

// Loading a converted file writes each panel byte once (not one offset per value): every
// stored value reads back through q8_offset / q4_code where it belongs, padding rows hold
// q = 0 / c = 8, a pool's threads write the same bytes, and the export (the same walk
// backwards) gives the file's values back.
TEST(Quantization, PrequantizedValuesReadBackThroughTheLayoutOffsets) {
  ThreadPool pool(3);
  for (WeightFormat format : {WeightFormat::Q8, WeightFormat::Q4})
    for (Q4Layout layout : {Q4Layout::Lanes, Q4Layout::Bytes})
      for (Shape shape : {Shape{16, 32, 1}, Shape{37, 70, 1}, Shape{5, 300, 1}}) {
        SCOPED_TRACE(testing::Message() << weight_format_name(format) << " " << q4_layout_name(layout) << " "
                                        << shape.out << "x" << shape.in);
        const int blocks = (shape.in + 31) / 32, kp = blocks * 32;
        const size_t row_bytes = format == WeightFormat::Q8 ? size_t(shape.in) : size_t(kp / 2);
        std::vector<uint8_t> weight(shape.out * row_bytes);
        for (size_t i = 0; i < weight.size(); ++i) weight[i] = uint8_t((i * 2654435761u) >> 13);
        if (format == WeightFormat::Q8)
          for (auto& b : weight) b = b == 0x80 ? 0x81 : b;  // Q8_0 values stay in -127..127
        const DType dtype = format == WeightFormat::Q8 ? DType::F16 : DType::U8;
        std::vector<uint8_t> scale(size_t(shape.out) * stored_scale_columns(format, dtype, shape.in) *
                                   dtype_size(dtype));
        for (size_t i = 0; i < scale.size(); ++i) scale[i] = uint8_t(format == WeightFormat::Q8 && i % 2 ? 0x3c : i);
        PackedMatrix m = pack_prequantized(format, shape.out, shape.in, weight.data(), dtype, scale.data(), layout);
        const size_t panel_bytes = m.data.bytes() / m.panels();
        for (int o = 0; o < m.panels() * kPanel; ++o) {
          const uint8_t* panel = m.data.data() + panel_bytes * (o / kPanel);
          const int r = o % kPanel;
          for (int k = 0; k < kp; ++k) {
            if (format == WeightFormat::Q8) {
              const int want = o < shape.out && k < shape.in ? int(int8_t(weight[o * row_bytes + k])) : 0;
              ASSERT_EQ(q8_value(r, panel[q8_offset(r, k)]), want) << o << ", " << k;
            } else {
              const int want = o < shape.out ? (weight[o * row_bytes + k / 2] >> (4 * (k % 2))) & 15 : 8;
              ASSERT_EQ(int(q4_code(layout, panel, r, k)), want) << o << ", " << k;
            }
          }
        }
        expect_same_packing(
            pack_prequantized(format, shape.out, shape.in, weight.data(), dtype, scale.data(), layout, &pool), m);
        EXPECT_EQ(export_quantized_weight(m), weight) << "the export gives the stored values back";
      }
}

// A Q8 panel is one stream: each block's 16 f32 scales lie right after its 512 bytes of
// weights, none in `scales` (the cold GEMV reads one stream per panel).
TEST(Quantization, Q8ScalesFollowEachBlockInsideThePanel) {
  const int out = 20, in = 70, blocks = 3;
  std::vector<uint8_t> weight(size_t(out) * in, 1);
  std::vector<uint16_t> scale(size_t(out) * blocks);
  for (size_t i = 0; i < scale.size(); ++i) scale[i] = uint16_t(0x3c00 + i);  // 1 + i / 1024 as fp16
  const PackedMatrix m = pack_prequantized(WeightFormat::Q8, out, in, weight.data(), DType::F16,
                                           reinterpret_cast<const uint8_t*>(scale.data()));
  EXPECT_EQ(m.scales.size(), 0u);
  ASSERT_EQ(m.panel_bytes(), size_t(blocks) * kQ8BlockBytes);
  for (int o = 0; o < m.panels() * kPanel; ++o)
    for (int b = 0; b < blocks; ++b) {
      const uint8_t* block_scales = m.data.data() + (o / kPanel) * m.panel_bytes() + b * kQ8BlockBytes +
                                    kQ8BlockWeights;
      float at;
      std::memcpy(&at, block_scales + (o % kPanel) * 4, 4);
      EXPECT_EQ(at, o < out ? 1.0f + float(o * blocks + b) / 1024 : 0.0f) << o << ", " << b;
      EXPECT_EQ(m.block_scales(o / kPanel, b), reinterpret_cast<const float*>(block_scales));
    }
}

// Files of stored layouts 1 and 2 hold symmetric q4 blocks with f32 scales: they load as
// w = s (c - 8) and export as they came.
TEST(Quantization, SymmetricQ4FromOlderFilesLoadsAndExportsUnchanged) {
  const int out = 20, in = 70, blocks = 3;
  std::vector<uint8_t> weight(size_t(out) * blocks * 16);
  for (size_t i = 0; i < weight.size(); ++i) weight[i] = uint8_t(i * 37 + 11);
  std::vector<float> scale(size_t(out) * blocks);
  for (size_t i = 0; i < scale.size(); ++i) scale[i] = (i % 3 == 0 ? -0.01f : 0.02f) * float(1 + i % 5);
  const uint8_t* scale_bytes = reinterpret_cast<const uint8_t*>(scale.data());
  PackedMatrix m = pack_prequantized(WeightFormat::Q4, out, in, weight.data(), DType::F32, scale_bytes);
  EXPECT_TRUE(m.q4_symmetric);
  std::vector<float> row(in);
  for (int o = 0; o < out; ++o) {
    unpack_row(m, o, row.data());
    for (int k = 0; k < in; ++k) {
      const uint8_t byte = weight[size_t(o) * blocks * 16 + k / 2];
      const int c = k % 2 ? byte >> 4 : byte & 15;
      const float s = scale[size_t(o) * blocks + k / 32];  // s c - 8 s rounds like s (c - 8) or next to it
      ASSERT_NEAR(row[k], s * float(c - 8), 1e-6f * std::fabs(s)) << o << ", " << k;
    }
  }
  EXPECT_EQ(stored_scale_dtype(m), DType::F32);
  EXPECT_EQ(export_quantized_weight(m), weight);
  const std::vector<uint8_t> s = export_quantized_scale(m);
  EXPECT_EQ(s, std::vector<uint8_t>(scale_bytes, scale_bytes + scale.size() * 4));
  // The same scales taken as Q4_K ones have no 6-bit codes: export refuses instead of guessing.
  m.q4_symmetric = false;
  try {
    export_quantized_scale(m);
    FAIL() << "exported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Internal);
  }
}

// A q4 file stores 4.5 bits per weight where rows are whole super-blocks (issue 31).
TEST(Quantization, Q4FileFormatTakesFourAndAHalfBitsPerWeight) {
  auto w = random_matrix(16, 512, 5);
  PackedMatrix m = pack_matrix_f32(WeightFormat::Q4, 16, 512, w.data());
  const size_t bytes = export_quantized_weight(m).size() + export_quantized_scale(m).size();
  EXPECT_DOUBLE_EQ(double(bytes) * 8 / (16 * 512), 4.5);
}

TEST(Quantization, Q4KScalesRoundTripThroughTheirSixteenBytes) {
  quant::Q4KSuper s;
  s.d = 0x3c01;
  s.dmin = 0x8123;
  for (int i = 0; i < quant::kSubBlocks; ++i) s.sc[i] = uint8_t((i * 29 + 63) % 64), s.m[i] = uint8_t((i * 41) % 64);
  uint8_t bytes[quant::kQ4KScaleBytes];
  quant::store_q4_k_scales(s, bytes);
  quant::Q4KSuper back;
  quant::load_q4_k_scales(bytes, &back);
  EXPECT_EQ(back.d, s.d);
  EXPECT_EQ(back.dmin, s.dmin);
  for (int i = 0; i < quant::kSubBlocks; ++i) {
    EXPECT_EQ(back.sc[i], s.sc[i]);
    EXPECT_EQ(back.m[i], s.m[i]);
  }
  EXPECT_EQ(bytes[4] & 63, s.sc[0]);  // the first code in the low bits of the first code byte
}

// Products with full-scale activations (+-1 quantizes to +-max_q exactly): all +1, all -1 and
// a mix, each against the double reference and, in WebAssembly, SIMD128 against scalar.
void expect_exact_with_full_scale_inputs(const PackedMatrix& m) {
  for (int pattern = 0; pattern < 3; ++pattern) {
    SCOPED_TRACE(pattern);
    std::vector<float> x(m.in);
    for (int k = 0; k < m.in; ++k) x[k] = pattern == 0 ? 1.0f : pattern == 1 ? -1.0f : (k % 5 < 2 ? -1.0f : 1.0f);
    std::vector<float> y(m.out);
    gemm(m, x.data(), 1, y.data(), nullptr, nullptr);
    std::vector<double> ref = reference(m, x, 1);
    for (int o = 0; o < m.out; ++o) ASSERT_NEAR(y[o], ref[o], 1e-5 * (1 + std::fabs(ref[o]))) << "output " << o;
#ifdef __wasm_simd128__
    expect_simd128_equals_scalar(m, x, 1);
#endif
  }
}

// The SIMD128 q4 kernel reads each 16-bit lane of four nibbles (rows 12..15 stored signed) as
// one integer, so with extreme nibbles and full-scale activations its per-lane sums wrap around
// int32; the block sums it recovers from them must still be exact. Panel 0 holds c = 15
// everywhere (lanes of 32767), panel 1 c = 0 (lanes of -32768), panel 2 a mix; with symmetric
// f32 scales and with Q4_K ones at the largest codes (sc = m = 63).
TEST(Gemm, Q4ExtremeValuesStayExactInBothLayouts) {
  const int out = 48, in = 64, blocks = in / kQuantBlock;
  std::vector<uint8_t> weight(size_t(out) * in / 2, 0);
  for (int o = 0; o < out; ++o)
    for (int k = 0; k < in; ++k) {
      const int panel = o / kPanel;
      const uint8_t code = panel == 0 ? 15 : panel == 1 ? 0 : ((o + k / 3) % 2 ? 15 : 0);
      weight[(size_t(o) * in + k) / 2] |= uint8_t(code << (4 * (k % 2)));
    }
  std::vector<float> symmetric(size_t(out) * blocks, 0.5f);
  quant::Q4KSuper super;
  super.d = f32_to_f16(1.0f / 64);
  super.dmin = f32_to_f16(1.0f / 128);
  for (int i = 0; i < quant::kSubBlocks; ++i) super.sc[i] = 63, super.m[i] = 63;
  std::vector<uint8_t> q4k(size_t(out) * quant::kQ4KScaleBytes);
  for (int o = 0; o < out; ++o) quant::store_q4_k_scales(super, q4k.data() + size_t(o) * quant::kQ4KScaleBytes);
  for (Q4Layout layout : {Q4Layout::Lanes, Q4Layout::Bytes}) {
    SCOPED_TRACE(q4_layout_name(layout));
    expect_exact_with_full_scale_inputs(pack_prequantized(WeightFormat::Q4, out, in, weight.data(), DType::F32,
                                                          reinterpret_cast<const uint8_t*>(symmetric.data()), layout));
    expect_exact_with_full_scale_inputs(
        pack_prequantized(WeightFormat::Q4, out, in, weight.data(), DType::U8, q4k.data(), layout));
  }
}

// The two Q4 layouts hold the same values, and every kernel that reads them gives the same bits:
// in the relaxed-SIMD twin this compares the relaxed kernel with the SIMD128 one, elsewhere the
// scalar kernel (Bytes) with SIMD128 or with itself (native).
TEST(Gemm, Q4LayoutsGiveIdenticalProducts) {
  for (Shape shape : {Shape{16, 32, 1}, Shape{37, 61, 3}, Shape{130, 600, 2}, Shape{20, 517, 2}}) {
    SCOPED_TRACE(testing::Message() << shape.out << "x" << shape.in);
    auto w = random_matrix(shape.out, shape.in, 12);
    auto x = random_matrix(shape.rows, shape.in, 13, 3.0f);
    PackedMatrix lanes = pack_matrix_f32(WeightFormat::Q4, shape.out, shape.in, w.data(), Q4Layout::Lanes);
    PackedMatrix bytes = pack_matrix_f32(WeightFormat::Q4, shape.out, shape.in, w.data(), Q4Layout::Bytes);
    ASSERT_EQ(lanes.data.bytes(), bytes.data.bytes());
    EXPECT_NE(std::memcmp(lanes.data.data(), bytes.data.data(), lanes.data.bytes()), 0);  // really another order
    std::vector<float> row_lanes(shape.in), row_bytes(shape.in);
    for (int o = 0; o < shape.out; ++o) {
      unpack_row(lanes, o, row_lanes.data());
      unpack_row(bytes, o, row_bytes.data());
      ASSERT_EQ(row_lanes, row_bytes) << "row " << o;
    }
    std::vector<float> a(size_t(shape.rows) * shape.out), b(a.size());
    gemm(lanes, x.data(), shape.rows, a.data(), nullptr, nullptr);
    gemm(bytes, x.data(), shape.rows, b.data(), nullptr, nullptr);
    EXPECT_EQ(a, b);
  }
}

// Each build packs Q4 for its fastest kernel and runs it: the relaxed-SIMD twin (its ctest
// entry sets KYUTAI_EXPECT_RELAXED_SIMD=1) must have linked the relaxed kernel in.
TEST(Gemm, Q4UsesTheRelaxedKernelWhereItIsLinked) {
  auto w = random_matrix(16, 64, 14);
  PackedMatrix m = pack_matrix_f32(WeightFormat::Q4, 16, 64, w.data());
  const char* expect = std::getenv("KYUTAI_EXPECT_RELAXED_SIMD");
  if (expect && std::string(expect) == "1") ASSERT_TRUE(relaxed_simd_linked());
  if (relaxed_simd_linked()) {
    EXPECT_EQ(m.q4_layout, Q4Layout::Bytes);
    EXPECT_STREQ(gemm_kernel_name(m), "relaxed-simd");
  } else {
    EXPECT_EQ(m.q4_layout, Q4Layout::Lanes);
    EXPECT_STRNE(gemm_kernel_name(m), "relaxed-simd");
  }
}

// Likewise the 8-bit kernel reads each lane (row i + 128 in the low byte, row 4 + i signed in
// the high byte) as one integer: with q = +-127 and full-scale activations the rows' sums must
// still be exact. The inputs (600, odd rows count) also cover the padding rows and a partial
// last block.
TEST(Gemm, Q8ExtremeValuesStayExactWhenTheLaneSumsWrap) {
  const int out = 37, in = 600;
  std::vector<uint8_t> weight(size_t(out) * in);
  for (int o = 0; o < out; ++o)
    for (int k = 0; k < in; ++k)
      weight[size_t(o) * in + k] = uint8_t(int8_t(o % 3 == 0   ? 127
                                                  : o % 3 == 1 ? -127
                                                               : ((o + k / 7) % 2 ? 127 : -127)));
  std::vector<uint16_t> scale(size_t(out) * ((in + kQuantBlock - 1) / kQuantBlock), f32_to_f16(0.25f));
  PackedMatrix m = pack_prequantized(WeightFormat::Q8, out, in, weight.data(), DType::F16,
                                     reinterpret_cast<const uint8_t*>(scale.data()));
  expect_exact_with_full_scale_inputs(m);
}

TEST(Gemm, BiasIsAddedPerOutput) {
  auto w = random_matrix(20, 9, 9);
  auto x = random_matrix(2, 9, 10);
  std::vector<float> bias(20);
  for (int i = 0; i < 20; ++i) bias[i] = float(i);
  PackedMatrix m = pack_matrix_f32(WeightFormat::F32, 20, 9, w.data());
  std::vector<float> with(40), without(40);
  gemm(m, x.data(), 2, with.data(), bias.data(), nullptr);
  gemm(m, x.data(), 2, without.data(), nullptr, nullptr);
  for (int i = 0; i < 40; ++i) EXPECT_FLOAT_EQ(with[i], without[i] + float(i % 20));
}

TEST(Gemm, NonFiniteInputGivesNanNotGarbage) {
  auto w = random_matrix(16, 40, 11);
  std::vector<float> x(40, 0.5f);
  x[3] = NAN;
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::Q8, WeightFormat::Q4}) {
    PackedMatrix m = pack_matrix_f32(f, 16, 40, w.data());
    std::vector<float> y(16);
    gemm(m, x.data(), 1, y.data(), nullptr, nullptr);
    for (float v : y) EXPECT_TRUE(std::isnan(v)) << weight_format_name(f);
  }
}

// Both row quantizers on one row: values, block scales and block sums compared bit for bit.
void expect_row_quantizers_agree(const std::vector<float>& x, int in_padded, int max_q) {
#ifdef __wasm_simd128__
  const int in = int(x.size()), blocks = in_padded / kQuantBlock;
  std::vector<int16_t> qs(in_padded, 0), qv(in_padded, 0);
  std::vector<int32_t> bs(blocks, 0), bv(blocks, 0);
  std::vector<float> ss(blocks, 0), sv(blocks, 0);
  scalar::quantize_row(x.data(), in, in_padded, max_q, qs.data(), ss.data(), bs.data());
  simd128::quantize_row(x.data(), in, in_padded, max_q, qv.data(), sv.data(), bv.data());
  for (int b = 0; b < blocks; ++b)
    EXPECT_TRUE(ss[b] == sv[b] || (std::isnan(ss[b]) && std::isnan(sv[b]))) << ss[b] << " vs " << sv[b];
  EXPECT_EQ(qs, qv);
  EXPECT_EQ(bs, bv);
#else
  (void)x;
  (void)in_padded;
  (void)max_q;
#endif
}

TEST(Quantization, Simd128RowQuantizationIsIdenticalToScalar) {
#ifndef __wasm_simd128__
  GTEST_SKIP() << "SIMD128 kernels exist only in the WebAssembly build";
#endif
  for (int max_q : {activation_max(WeightFormat::Q8), activation_max(WeightFormat::Q4)})
    for (int in : {1, 7, 8, 33, 61, 64, 600}) {
      SCOPED_TRACE(testing::Message() << "max_q " << max_q << ", in " << in);
      const int in_padded = (in + kQuantBlock - 1) / kQuantBlock * kQuantBlock;
      expect_row_quantizers_agree(random_matrix(1, in, 20 + in, 3.0f), in_padded, max_q);
      // Halfway cases: with max |x| = max_q the scale is 1 and k + 0.5 rounds to the even side.
      std::vector<float> ties(in);
      for (int k = 0; k < in; ++k) ties[k] = k % kQuantBlock == 0 ? -float(max_q) : float(k % 9) - 4.5f;
      expect_row_quantizers_agree(ties, in_padded, max_q);
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        std::vector<float> x = random_matrix(1, in, 60 + in);
        x[in / 2] = bad;
        expect_row_quantizers_agree(x, in_padded, max_q);
      }
    }
}

// Each block of 32 activations gets its own scale: an outlier in one block leaves the
// other blocks' values at full resolution (issue 31).
TEST(Quantization, ActivationScalesArePerBlockOf32) {
  std::vector<float> x(96, 0.5f);
  x[40] = 1000.0f;  // block 1
  QuantizedRows xq;
  quantize_rows(x.data(), 1, 96, 96, 127, &xq);
  ASSERT_EQ(xq.scales.size(), 3u);
  EXPECT_FLOAT_EQ(xq.scales[0], 0.5f / 127);
  EXPECT_FLOAT_EQ(xq.scales[1], 1000.0f / 127);
  EXPECT_FLOAT_EQ(xq.scales[2], 0.5f / 127);
  EXPECT_EQ(xq.values[0], 127);
  EXPECT_EQ(xq.values[33], 0);  // 0.5 against 1000 / 127
  EXPECT_EQ(xq.values[64], 127);
  EXPECT_EQ(xq.block_sums[0], 32 * 127);
  EXPECT_EQ(xq.block_sums[2], 32 * 127);
}

}  // namespace
}  // namespace kyutai

namespace kyutai {
namespace {

// Every row of a packed q4 matrix holds what quant::quantize_q4_k makes of each of its
// super-blocks (zero-padded past the row's end), bit for bit: 37 rows x 300 inputs give partial
// panels, a partial super-block and a partial block.
TEST(Q4K, PackedRowsAreTheQ4KQuantizerOfEachSuperBlock) {
  const int out = 37, in = 300;
  auto w = random_matrix(out, in, 11);
  w[in + 7] = 40.0f;  // one large value in a block
  for (int steps : {quant::kQ4KSearchSteps, 0}) {
    SCOPED_TRACE(steps);
    PackedMatrix m = pack_matrix_f32(WeightFormat::Q4, out, in, w.data(), preferred_q4_layout(), steps);
    std::vector<float> row(in), chunk(quant::kSuperBlock), expect(quant::kSuperBlock);
    for (int r = 0; r < out; ++r) {
      unpack_row(m, r, row.data());
      for (int k0 = 0; k0 < in; k0 += quant::kSuperBlock) {
        const int n = std::min(quant::kSuperBlock, in - k0);
        std::fill(chunk.begin(), chunk.end(), 0.0f);
        std::copy(w.begin() + size_t(r) * in + k0, w.begin() + size_t(r) * in + k0 + n, chunk.begin());
        quant::Q4KSuper super;
        quant::quantize_q4_k(chunk.data(), &super, steps);
        quant::dequantize_q4_k(super, expect.data());
        for (int k = 0; k < n; ++k) ASSERT_EQ(row[k0 + k], expect[k]) << "row " << r << " input " << k0 + k;
      }
    }
  }
}

}  // namespace
}  // namespace kyutai
