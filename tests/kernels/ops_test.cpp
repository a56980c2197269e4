// Element-wise kernels: the SIMD128 versions against the scalar ones, softmax and RoPE
// properties.
#include <gtest/gtest.h>

#include <cmath>

#include "io/dtype.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::uniform_floats;

TEST(Ops, SoftmaxSumsToOneAndKeepsOrder) {
  auto x = uniform_floats(37, 1, 20.0f);
  auto y = x;
  softmax(y.data(), 37);
  double sum = 0;
  for (float v : y) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  for (int i = 0; i < 37; ++i)
    for (int j = 0; j < 37; ++j)
      if (x[i] < x[j]) EXPECT_LE(y[i], y[j]);
}

TEST(Ops, SoftmaxIgnoresMinusInfinityAndPropagatesNan) {
  std::vector<float> x = {1.0f, -INFINITY, 2.0f, -INFINITY, 0.5f};
  softmax(x.data(), 5);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_NEAR(x[0] + x[2] + x[4], 1.0f, 1e-6);
  std::vector<float> n = {1.0f, NAN, 2.0f};
  softmax(n.data(), 3);
  for (float v : n) EXPECT_TRUE(std::isnan(v));
}

TEST(Ops, RopePreservesNormsAndMatchesTheFormula) {
  for (bool interleave : {true, false}) {
    auto v = uniform_floats(2 * 16, 2, 1.0f), orig = v;
    apply_rope(v.data(), 2, 16, 37, 10000, interleave);
    for (int h = 0; h < 2; ++h) {
      double a = 0, b = 0;
      for (int i = 0; i < 16; ++i) {
        a += double(orig[h * 16 + i]) * orig[h * 16 + i];
        b += double(v[h * 16 + i]) * v[h * 16 + i];
      }
      EXPECT_NEAR(a, b, 1e-4);
    }
    // Pair 3 of head 1: angle = 37 * 10000^(-6/16).
    const double angle = 37.0 * std::pow(10000.0, -6.0 / 16);
    const int re = interleave ? 16 + 6 : 16 + 3, im = interleave ? 16 + 7 : 16 + 3 + 8;
    EXPECT_NEAR(v[re], orig[re] * std::cos(angle) - orig[im] * std::sin(angle), 1e-4);
    EXPECT_NEAR(v[im], orig[re] * std::sin(angle) + orig[im] * std::cos(angle), 1e-4);
  }
}

// Inputs across ELU's and SiLU's interesting ranges: tiny (where exp(x) - 1 would cancel),
// moderate, saturating, infinities and NaN; 1003 values so the scalar tail runs too.
std::vector<float> activation_inputs() {
  std::vector<float> x = uniform_floats(1003, 7, 12.0f);
  auto tiny = uniform_floats(200, 8, 1e-3f);
  std::copy(tiny.begin(), tiny.end(), x.begin());
  const float specials[] = {0.0f,   -0.0f,   0.4999f, -0.5f,     -0.5001f, 1e-30f, -1e-30f,
                            -87.0f, -100.0f, 100.0f,  -INFINITY, INFINITY, NAN};
  std::copy(std::begin(specials), std::end(specials), x.begin() + 200);
  return x;
}

#ifdef __wasm_simd128__
TEST(OpsSimd128, ExpMatchesStdExpWithinTwoUlp) {
  std::vector<float> x = uniform_floats(1001, 3, 80.0f), a(1001), b(1001);
  x[0] = -INFINITY;
  x[1] = -100.0f;
  float sa = simd128::exp_shifted(x.data(), 0.5f, 1001, a.data());
  float sb = scalar::exp_shifted(x.data(), 0.5f, 1001, b.data());
  EXPECT_EQ(a[0], 0.0f);
  // Results below the normal range (x - shift < -87.3) are flushed to 0, hence the FLT_MIN term.
  for (int i = 0; i < 1001; ++i) EXPECT_NEAR(a[i], b[i], 2.5e-7f * b[i] + 1.2e-38f) << "x = " << x[i];
  EXPECT_NEAR(sa, sb, 1e-6 * sb);
}

TEST(OpsSimd128, EluAndSiluMatchTheScalarFormulas) {
  for (Activation a : {Activation::Elu, Activation::Silu}) {
    auto x = activation_inputs(), fast = x, exact = x;
    simd128::activate_inplace(a, fast.data(), int(fast.size()));
    scalar::activate_inplace(a, exact.data(), int(exact.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(exact[i]) && std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(fast[i])) << "NaN in, NaN out";
      } else if (std::isinf(x[i]) || std::isnan(exact[i])) {
        // ELU(+-inf) is exact. SiLU(-inf) is NaN in the scalar formula (-inf / inf); the
        // saturated exp makes it -inf here: an infinity stays an infinity either way.
        if (a == Activation::Elu) EXPECT_EQ(fast[i], exact[i]) << "x = " << x[i];
        else EXPECT_EQ(fast[i], x[i]) << "x = " << x[i];
      } else {
        EXPECT_NEAR(fast[i], exact[i], 3e-7f * std::fabs(exact[i]) + 1e-30f) << "x = " << x[i];
      }
    }
  }
}

TEST(OpsSimd128, OtherActivationsAreTheScalarOnes) {
  auto x = uniform_floats(37, 9, 4.0f), fast = x, exact = x;
  simd128::activate_inplace(Activation::Tanh, fast.data(), 37);
  scalar::activate_inplace(Activation::Tanh, exact.data(), 37);
  EXPECT_EQ(fast, exact);
}

TEST(OpsSimd128, SplitBf16DotAndAxpyMatchScalar) {
  for (int n : {8, 24, 37, 128}) {
    auto x = uniform_floats(n, 10, 2.0f), r = uniform_floats(n, 11, 3.0f);
    std::vector<uint16_t> row(n);
    for (int i = 0; i < n; ++i) row[i] = f32_to_bf16(r[i]);
    std::vector<float> even((n + 1) / 2), odd(n / 2 + 1);
    float reference = 0;
    for (int i = 0; i < n; ++i) {
      (i & 1 ? odd : even)[i / 2] = x[i];
      reference += x[i] * bf16_to_f32(row[i]);
    }
    const float fast = simd128::dot_bf16_split(even.data(), odd.data(), row.data(), n);
    EXPECT_NEAR(fast, scalar::dot_bf16_split(even.data(), odd.data(), row.data(), n), 1e-5f * (1 + std::fabs(fast)))
        << n;
    EXPECT_NEAR(fast, reference, 1e-5f * (1 + std::fabs(reference))) << n;
    auto e1 = even, o1 = odd, e2 = even, o2 = odd;
    simd128::axpy_bf16_split(0.7f, row.data(), n, e1.data(), o1.data());
    scalar::axpy_bf16_split(0.7f, row.data(), n, e2.data(), o2.data());
    EXPECT_EQ(e1, e2) << n;
    EXPECT_EQ(o1, o2) << n;
    for (int i = 0; i < n; ++i)
      EXPECT_EQ((i & 1 ? o1 : e1)[i / 2], (i & 1 ? odd : even)[i / 2] + 0.7f * bf16_to_f32(row[i])) << n << " " << i;
  }
}

TEST(OpsSimd128, RotationMatchesScalar) {
  for (bool interleave : {true, false}) {
    auto v = uniform_floats(3 * 32, 4, 1.0f), w = v;
    auto c = uniform_floats(16, 5, 1.0f), s = uniform_floats(16, 6, 1.0f);
    simd128::rotate_pairs(v.data(), 3, 32, c.data(), s.data(), interleave);
    scalar::rotate_pairs(w.data(), 3, 32, c.data(), s.data(), interleave);
    EXPECT_EQ(v, w);
  }
}
#endif

// GELU, in both builds, against x erfc(-x / sqrt 2) / 2 in double: within a few ulp across
// the range, the far negative tail included (where 1 + erf(x) in float would keep no digits).
// There the float rounding of x / sqrt 2 alone moves erfc by about x^2 ulp, hence the x^2 term.
TEST(Ops, GeluIsAccurateInBothTails) {
  auto x = activation_inputs();
  const float tail[] = {-4.0f, -6.0f, -9.0f, -12.0f, -13.5f};
  std::copy(std::begin(tail), std::end(tail), x.begin() + 220);
  auto values = x;
  activate_inplace(Activation::Gelu, values.data(), int(values.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = 0.5 * double(x[i]) * std::erfc(-double(x[i]) * 0.70710678118654752);
    if (std::isnan(ref)) EXPECT_TRUE(std::isnan(values[i])) << "x = " << x[i];  // NaN, and -inf * 0
    else if (std::isinf(ref)) EXPECT_EQ(values[i], ref) << "x = " << x[i];
    else EXPECT_NEAR(values[i], ref, (6e-7 + 3e-7 * x[i] * x[i]) * std::fabs(ref) + 1e-37) << "x = " << x[i];
  }
}

}  // namespace
}  // namespace kyutai
