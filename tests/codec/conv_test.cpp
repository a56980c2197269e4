// Streaming convolutions against a direct transcription of PyTorch's formulas (Kyutai's
// StreamingConv1d: left padding by effective kernel - stride, zeros or the first sample;
// StreamingConvTranspose1d: full transposed convolution trimmed by kernel - stride on the
// right), streaming in chunks against whole sequences bit for bit, and the SIMD kernels
// against the scalar ones bit for bit (in the WebAssembly build).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "codec/conv.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::max_abs_diff;

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = float(seed >> 8) / float(1 << 24) * 2.0f - 1.0f;
  }
  return v;
}

// x, y time-major [rows][channels]; torch weight [out][in/groups][kernel].
std::vector<float> reference_conv(const std::vector<float>& x, int rows, const std::vector<float>& w,
                                  const std::vector<float>& bias, const ConvShape& s, bool replicate) {
  const int pad = s.effective_kernel() - s.stride, C = s.in_channels, O = s.out_channels;
  const int ipg = s.in_per_group(), opg = s.out_per_group();
  auto input = [&](int r, int c) -> double {
    int src = r - pad;
    if (src < 0) {
      if (!replicate) return 0.0;
      src = 0;
    }
    return x[size_t(src) * C + c];
  };
  const int out_rows = rows / s.stride;
  std::vector<float> y(size_t(out_rows) * O);
  for (int t = 0; t < out_rows; ++t)
    for (int o = 0; o < O; ++o) {
      const int g = o / opg;
      double acc = bias.empty() ? 0.0 : bias[o];
      for (int c = 0; c < ipg; ++c)
        for (int k = 0; k < s.kernel; ++k)
          acc += double(w[(size_t(o) * ipg + c) * s.kernel + k]) * input(t * s.stride + k * s.dilation, g * ipg + c);
      y[size_t(t) * O + o] = float(acc);
    }
  return y;
}

// torch weight [in][out/groups][kernel].
std::vector<float> reference_conv_transpose(const std::vector<float>& x, int rows, const std::vector<float>& w,
                                            const std::vector<float>& bias, const ConvShape& s) {
  const int C = s.in_channels, O = s.out_channels, ipg = s.in_per_group(), opg = s.out_per_group();
  const int full_rows = (rows - 1) * s.stride + s.kernel;
  std::vector<double> full(size_t(full_rows) * O, 0.0);
  for (int t = 0; t < rows; ++t)
    for (int c = 0; c < C; ++c) {
      const int g = c / ipg;
      for (int og = 0; og < opg; ++og)
        for (int k = 0; k < s.kernel; ++k)
          full[(size_t(t) * s.stride + k) * O + g * opg + og] += double(x[size_t(t) * C + c]) *
                                                                 w[(size_t(c) * opg + og) * s.kernel + k];
    }
  std::vector<float> y(size_t(rows) * s.stride * O);  // trimmed on the right
  for (size_t r = 0; r < size_t(rows) * s.stride; ++r)
    for (int o = 0; o < O; ++o) y[r * O + o] = float(full[r * O + o] + (bias.empty() ? 0.0 : bias[o]));
  return y;
}

ConvShape shape(int in, int out, int kernel, int stride, int dilation, int groups) {
  ConvShape s;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = kernel;
  s.stride = stride;
  s.dilation = dilation;
  s.groups = groups;
  return s;
}

// Shapes Mimi uses (first conv, residual 3-tap and 1x1, strided downsampling, channel-wise
// upsampling) and odd ones: dilation, groups, widths that are not multiples of 4.
std::vector<ConvShape> conv_shapes() {
  return {shape(1, 4, 7, 1, 1, 1),    shape(4, 2, 3, 1, 1, 1),   shape(2, 4, 1, 1, 1, 1),  shape(4, 8, 8, 4, 1, 1),
          shape(16, 32, 12, 6, 1, 1), shape(32, 32, 4, 2, 1, 1), shape(6, 9, 3, 1, 2, 3),  shape(5, 7, 5, 1, 3, 1),
          shape(8, 8, 4, 2, 1, 8),    shape(12, 6, 6, 3, 2, 2),  shape(13, 11, 9, 1, 1, 1)};
}

TEST(MimiConv, WholeSequenceMatchesPyTorchFormula) {
  for (bool replicate : {false, true})
    for (const ConvShape& s : conv_shapes()) {
      SCOPED_TRACE(testing::Message() << "in " << s.in_channels << " out " << s.out_channels << " k " << s.kernel
                                      << " stride " << s.stride << " dil " << s.dilation << " groups " << s.groups
                                      << " replicate " << replicate);
      const int rows = s.stride * 10;
      auto w = random_values(size_t(s.out_channels) * s.in_per_group() * s.kernel, 1);
      auto b = random_values(s.out_channels, 2);
      auto x = random_values(size_t(rows) * s.in_channels, 3);
      Conv1d conv(s, true, replicate ? PadMode::Replicate : PadMode::Constant, "test");
      conv.set_weights(w, b);
      EXPECT_LT(max_abs_diff(conv.forward(x.data(), rows, nullptr), reference_conv(x, rows, w, b, s, replicate)), 1e-5);
    }
}

TEST(MimiConv, StreamingChunksEqualTheWholeSequence) {
  for (bool replicate : {false, true})
    for (const ConvShape& s : conv_shapes()) {
      const int rows = s.stride * 12;
      auto x = random_values(size_t(rows) * s.in_channels, 4);
      Conv1d conv(s, false, replicate ? PadMode::Replicate : PadMode::Constant, "test");
      conv.set_weights(random_values(size_t(s.out_channels) * s.in_per_group() * s.kernel, 5), {});
      const std::vector<float> whole = conv.forward(x.data(), rows, nullptr);
      for (int chunk : {1, 2, 5}) {
        Conv1dState st = conv.new_state();
        std::vector<float> streamed;
        for (int r = 0; r < 12;) {
          const int n = std::min(chunk, 12 - r);
          std::vector<float> y(size_t(n) * s.out_channels);
          conv.forward(x.data() + size_t(r) * s.stride * s.in_channels, n * s.stride, st, y.data(), nullptr);
          streamed.insert(streamed.end(), y.begin(), y.end());
          r += n;
        }
        EXPECT_EQ(streamed, whole) << "chunk " << chunk;  // same operations, same bits
      }
    }
}

TEST(MimiConv, InputWrittenInPlaceEqualsACopiedStep) {
  const ConvShape s = shape(6, 10, 3, 1, 2, 1);
  Conv1d conv(s, true, PadMode::Replicate, "test");
  conv.set_weights(random_values(size_t(10) * 6 * 3, 61), random_values(10, 62));
  auto x = random_values(size_t(16) * 6, 63);
  Conv1dState st = conv.new_state();
  std::vector<float> streamed;
  for (int r = 0; r < 16; r += 4) {  // the producer writes each step into the layer's buffer
    std::copy(x.begin() + r * 6, x.begin() + (r + 4) * 6, conv.input(st, 4));
    std::vector<float> y(4 * 10);
    conv.forward_input(4, st, y.data(), nullptr);
    streamed.insert(streamed.end(), y.begin(), y.end());
  }
  EXPECT_EQ(streamed, conv.forward(x.data(), 16, nullptr));
}

TEST(MimiConv, ResetForgetsTheLeftContext) {
  const ConvShape s = shape(3, 5, 4, 2, 1, 1);
  Conv1d conv(s, true, PadMode::Replicate, "test");
  conv.set_weights(random_values(size_t(5) * 3 * 4, 6), random_values(5, 7));
  auto x = random_values(size_t(8) * 3, 8);
  auto other = random_values(size_t(8) * 3, 9);
  Conv1dState st = conv.new_state();
  std::vector<float> y(4 * 5);
  conv.forward(other.data(), 8, st, y.data(), nullptr);
  st.reset();
  conv.forward(x.data(), 8, st, y.data(), nullptr);
  EXPECT_EQ(y, conv.forward(x.data(), 8, nullptr));
}

TEST(MimiConv, ThreadsGiveIdenticalResults) {
  ThreadPool pool(3);
  // Layers with few panels over many rows are also cut by rows: one panel, groups, dilation.
  for (auto [s, rows] : {std::pair{shape(24, 40, 6, 3, 1, 1), 600}, std::pair{shape(16, 1, 3, 1, 1, 1), 1921},
                         std::pair{shape(8, 16, 3, 1, 2, 1), 700}, std::pair{shape(16, 16, 3, 1, 1, 4), 300}}) {
    Conv1d conv(s, true, PadMode::Replicate, "test");
    const size_t weights = size_t(s.out_channels) * s.in_per_group() * s.kernel;
    conv.set_weights(random_values(weights, 10), random_values(s.out_channels, 11));
    auto input = random_values(size_t(rows) * s.in_channels, 12);
    EXPECT_EQ(conv.forward(input.data(), rows, &pool), conv.forward(input.data(), rows, nullptr))
        << s.in_channels << " -> " << s.out_channels << ", " << rows << " rows";
  }
  auto x = random_values(size_t(600) * 24, 12);
  ConvTranspose1d tr(shape(24, 40, 6, 3, 1, 1), true, "test");
  tr.set_weights(random_values(size_t(24) * 40 * 6, 13), random_values(40, 14));
  EXPECT_EQ(tr.forward(x.data(), 200, &pool), tr.forward(x.data(), 200, nullptr));
}

std::vector<ConvShape> transpose_shapes() {
  return {shape(64, 32, 16, 8, 1, 1), shape(8, 4, 8, 4, 1, 1), shape(32, 32, 4, 2, 1, 32), shape(32, 32, 4, 2, 1, 1),
          shape(6, 9, 5, 2, 1, 3),    shape(5, 7, 3, 3, 1, 1), shape(4, 4, 7, 2, 1, 2)};
}

TEST(MimiConv, TransposedWholeSequenceMatchesPyTorchFormula) {
  for (bool bias : {false, true})
    for (const ConvShape& s : transpose_shapes()) {
      SCOPED_TRACE(testing::Message() << "in " << s.in_channels << " out " << s.out_channels << " k " << s.kernel
                                      << " stride " << s.stride << " groups " << s.groups);
      const int rows = 9;
      auto w = random_values(size_t(s.in_channels) * s.out_per_group() * s.kernel, 21);
      auto b = bias ? random_values(s.out_channels, 22) : std::vector<float>();
      auto x = random_values(size_t(rows) * s.in_channels, 23);
      ConvTranspose1d tr(s, bias, "test");
      tr.set_weights(w, b);
      EXPECT_LT(max_abs_diff(tr.forward(x.data(), rows, nullptr), reference_conv_transpose(x, rows, w, b, s)), 1e-5);
    }
}

TEST(MimiConv, TransposedStreamingCarriesTheOverlap) {
  for (const ConvShape& s : transpose_shapes()) {
    const int rows = 12;
    auto x = random_values(size_t(rows) * s.in_channels, 24);
    ConvTranspose1d tr(s, true, "test");
    tr.set_weights(random_values(size_t(s.in_channels) * s.out_per_group() * s.kernel, 25),
                   random_values(s.out_channels, 26));
    const std::vector<float> whole = tr.forward(x.data(), rows, nullptr);
    for (int chunk : {1, 3, 4}) {
      ConvTranspose1dState st = tr.new_state();
      std::vector<float> streamed;
      for (int r = 0; r < rows;) {
        const int n = std::min(chunk, rows - r);
        std::vector<float> y(size_t(n) * s.stride * s.out_channels);
        tr.forward(x.data() + size_t(r) * s.in_channels, n, st, y.data(), nullptr);
        streamed.insert(streamed.end(), y.begin(), y.end());
        r += n;
      }
      EXPECT_EQ(streamed, whole) << "chunk " << chunk;  // each output sums its taps in one fixed order
    }
  }
}

TEST(MimiConv, BadShapesAndStepsAreRefused) {
  auto code = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  EXPECT_EQ(code([] { Conv1d(shape(6, 4, 3, 1, 1, 4), true, PadMode::Constant, "g"); }), ErrorCode::InvalidConfig);
  EXPECT_EQ(code([] { Conv1d(shape(4, 4, 2, 3, 1, 1), true, PadMode::Constant, "s"); }), ErrorCode::InvalidConfig);
  EXPECT_EQ(code([] { ConvTranspose1d(shape(4, 4, 2, 3, 1, 1), true, "t"); }), ErrorCode::InvalidConfig);
  EXPECT_EQ(code([] { Conv1d(shape(0, 4, 3, 1, 1, 1), true, PadMode::Constant, "z"); }), ErrorCode::InvalidConfig);
  Conv1d conv(shape(2, 2, 4, 2, 1, 1), true, PadMode::Constant, "layer.x");
  conv.set_weights(random_values(16, 1), random_values(2, 2));
  std::vector<float> x(2 * 5), y(2 * 5);
  Conv1dState st = conv.new_state();
  EXPECT_EQ(code([&] { conv.forward(x.data(), 5, st, y.data(), nullptr); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { conv.forward(x.data(), 0, st, y.data(), nullptr); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { conv.set_weights(random_values(15, 1), random_values(2, 2)); }), ErrorCode::InvalidArgument);
  Conv1d unloaded(shape(2, 2, 1, 1, 1, 1), true, PadMode::Constant, "unloaded");
  Conv1dState ust = unloaded.new_state();
  EXPECT_EQ(code([&] { unloaded.forward(x.data(), 2, ust, y.data(), nullptr); }), ErrorCode::InvalidState);
}

// The kernels directly: the scalar ones against the formula for every panel range, and
// (WebAssembly) the SIMD ones against the scalar ones, bit for bit.
TEST(MimiConvKernels, PanelsCoverEveryOutputOnce) {
  EXPECT_EQ(conv_panels(shape(4, 20, 3, 1, 1, 1)), 3);     // 8 + 8 + 4
  EXPECT_EQ(conv_panels(shape(32, 32, 4, 2, 1, 32)), 32);  // one lane per channel-wise group
  EXPECT_EQ(conv_panels(shape(6, 18, 3, 1, 1, 2)), 4);     // 9 outputs per group: 8 + 1, twice
}

TEST(MimiConvKernels, ScalarMatchesTheFormula) {
  for (const ConvShape& s : conv_shapes()) {
    const int out_rows = 7;
    const int in_rows = (out_rows - 1) * s.stride + s.effective_kernel();
    auto torch_w = random_values(size_t(s.out_channels) * s.in_per_group() * s.kernel, 31);
    auto w = conv1d_pack_weight(torch_w, s);
    auto b = random_values(s.out_channels, 32);
    auto x = random_values(size_t(in_rows) * s.in_channels, 33);
    const float kUnwritten = 12345.0f;
    const int panels = conv_panels(s);
    for (int pb : {0, 1}) {
      if (pb >= panels) continue;
      std::vector<float> y(size_t(out_rows) * s.out_channels, kUnwritten);
      scalar::conv1d_rows(x.data(), w.data(), b.data(), s, out_rows, pb, panels, y.data());
      // x is already padded: the formula without padding.
      int first_written = pb == 0 ? 0
                                  : std::min(s.out_channels, (pb / conv_panels_per_group(s)) * s.out_per_group() +
                                                                 (pb % conv_panels_per_group(s)) * kConvPanel);
      for (int t = 0; t < out_rows; ++t)
        for (int o = 0; o < s.out_channels; ++o) {
          const float got = y[size_t(t) * s.out_channels + o];
          if (o < first_written) {
            EXPECT_EQ(got, kUnwritten) << "output " << o << " is outside the panel range";
            continue;
          }
          const int g = o / s.out_per_group();
          double acc = b[o];
          for (int c = 0; c < s.in_per_group(); ++c)
            for (int k = 0; k < s.kernel; ++k)
              acc += double(torch_w[(size_t(o) * s.in_per_group() + c) * s.kernel + k]) *
                     x[size_t(t * s.stride + k * s.dilation) * s.in_channels + g * s.in_per_group() + c];
          EXPECT_NEAR(got, acc, 1e-5);
        }
    }
  }
}

#ifdef __wasm_simd128__
TEST(MimiConvKernels, Simd128MatchesScalarBitForBit) {
  for (const ConvShape& s : conv_shapes()) {
    for (int out_rows : {1, 2, 3, 4, 9}) {
      const int in_rows = (out_rows - 1) * s.stride + s.effective_kernel();
      auto w = conv1d_pack_weight(random_values(size_t(s.out_channels) * s.in_per_group() * s.kernel, 41), s);
      auto b = random_values(s.out_channels, 42);
      auto x = random_values(size_t(in_rows) * s.in_channels, 43);
      for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
        std::vector<float> ys(size_t(out_rows) * s.out_channels, 0.0f), yv = ys;
        scalar::conv1d_rows(x.data(), w.data(), bias, s, out_rows, 0, conv_panels(s), ys.data());
        simd128::conv1d_rows(x.data(), w.data(), bias, s, out_rows, 0, conv_panels(s), yv.data());
        EXPECT_EQ(ys, yv) << "conv in " << s.in_channels << " out " << s.out_channels << " rows " << out_rows;
      }
    }
  }
  for (const ConvShape& s : transpose_shapes()) {
    for (int rows : {1, 2, 3, 5, 6}) {
      auto w = conv_transpose1d_pack_weight(random_values(size_t(s.in_channels) * s.out_per_group() * s.kernel, 44), s);
      auto b = random_values(s.out_channels, 47);
      auto x = random_values(size_t(rows + conv_transpose1d_taps(s) - 1) * s.in_channels, 45);
      const int units = s.stride * conv_panels(s);
      std::vector<float> ys(size_t(rows) * s.stride * s.out_channels, 0.0f), yv = ys;
      scalar::conv_transpose1d_rows(x.data(), w.data(), b.data(), s, rows, 0, units, ys.data());
      simd128::conv_transpose1d_rows(x.data(), w.data(), b.data(), s, rows, 0, units, yv.data());
      EXPECT_EQ(ys, yv) << "transposed in " << s.in_channels << " out " << s.out_channels << " rows " << rows;
    }
  }
}

TEST(MimiConvKernels, DispatchUsesSimd128) {
  const ConvShape s = shape(16, 8, 3, 1, 1, 1);
  auto w = conv1d_pack_weight(random_values(16 * 8 * 3, 51), s);
  auto x = random_values(size_t(10) * 16, 52);
  std::vector<float> yd(8 * 8), yv(8 * 8);
  conv1d_rows(x.data(), w.data(), nullptr, s, 8, 0, conv_panels(s), yd.data());
  simd128::conv1d_rows(x.data(), w.data(), nullptr, s, 8, 0, conv_panels(s), yv.data());
  EXPECT_EQ(yd, yv);
}
#endif

}  // namespace
}  // namespace kyutai
