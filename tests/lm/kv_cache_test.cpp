// The KV cache's storage formats: bf16 rows take half the memory, are the f32 rows rounded
// to nearest even, and stream the conformance model close to the f32 cache.
#include <gtest/gtest.h>

#include <cmath>

#include "io/dtype.h"
#include "kernels/attention.h"
#include "lm/lm_model.h"
#include "lm/sampling.h"
#include "lm_fixture.h"
#include "nn/kv_cache.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::uniform_floats;

TEST(KvCache, Bf16RowsTakeHalfTheMemoryAndAreTheRoundedF32Rows) {
  KvCache f32, bf16;
  f32.allocate(10, 2, 16);
  bf16.allocate(10, 2, 16, KvFormat::BF16);
  EXPECT_EQ(f32.bytes() - 10 * 8, 2 * (bf16.bytes() - 10 * 8)) << "positions aside, half the bytes";
  const auto key = uniform_floats(16, 1), value = uniform_floats(16, 2);
  f32.write(1, 7, key.data(), value.data());
  bf16.write(1, 7, key.data(), value.data());
  const size_t row = (size_t(1) * 10 + 7) * 16;
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(f32.keys[row + i], key[i]);
    EXPECT_EQ(bf16.keys_bf16[row + i], f32_to_bf16(key[i]));
    EXPECT_EQ(bf16.values_bf16[row + i], f32_to_bf16(value[i]));
  }
}

TEST(KvCache, Bf16AttentionEqualsF32AttentionOverTheRoundedRows) {
  const int slots = 37, d = 24;
  const auto q = uniform_floats(d, 3), keys = uniform_floats(size_t(slots) * d, 4),
             values = uniform_floats(size_t(slots) * d, 5);
  std::vector<uint16_t> keys16(keys.size()), values16(values.size());
  std::vector<float> keys_rounded(keys.size()), values_rounded(values.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    keys16[i] = f32_to_bf16(keys[i]);
    values16[i] = f32_to_bf16(values[i]);
    keys_rounded[i] = bf16_to_f32(keys16[i]);
    values_rounded[i] = bf16_to_f32(values16[i]);
  }
  std::vector<int64_t> positions(slots);
  for (int s = 0; s < slots; ++s) positions[s] = s == 5 ? -1 : s;  // one empty slot
  std::vector<float> scores(slots), expected(d), got(d);
  attend(q.data(), keys_rounded.data(), values_rounded.data(), positions.data(), slots, d, 40, 30, 0.2f, scores.data(),
         expected.data());
  attend(q.data(), keys16.data(), values16.data(), positions.data(), slots, d, 40, 30, 0.2f, scores.data(), got.data());
  for (int i = 0; i < d; ++i) EXPECT_NEAR(got[i], expected[i], 1e-6f) << i;
}

// Streams random tokens for twice the context (the ring wraps) with an f32 and a bf16 cache.
TEST(KvCache, Bf16CacheStreamsTheConformanceModelCloseToF32) {
  const LmConfig& c = test::lm_fixture("lm").config;
  auto bytes = test::read_file(test::data_path("lm/weights.safetensors"));
  LoadOptions o;
  o.kv_cache = KvFormat::BF16;
  auto half = load_lm(c, bytes.data(), bytes.size(), o);
  const LmModel& full = *test::lm_fixture("lm").model;
  ASSERT_EQ(half->kv_format(), KvFormat::BF16);
  LmState a = full.new_state(), b = half->new_state();
  EXPECT_LT(b.transformer.bytes(), a.transformer.bytes());
  const int T = *c.context * 2 + 5, K = c.num_codebooks();
  Random rng(11);
  std::vector<int32_t> column(K);
  std::vector<float> out_a(c.dim), out_b(c.dim), logits_a(c.text_card_out), logits_b(c.text_card_out);
  double worst = 0;
  int same = 0;
  for (int t = 0; t < T; ++t) {
    column[0] = int32_t(rng.next() % c.text_card);
    for (int k = 1; k < K; ++k) column[k] = int32_t(rng.next() % c.card);
    full.step(column.data(), a, out_a.data(), logits_a.data());
    half->step(column.data(), b, out_b.data(), logits_b.data());
    worst = std::max(worst, double(test::max_abs_diff(logits_a, logits_b)));
    same += argmax(logits_a.data(), int(logits_a.size())) == argmax(logits_b.data(), int(logits_b.size()));
  }
  std::printf("bf16 KV cache vs f32: max text-logit difference %.4g, greedy agreement %d/%d\n", worst, same, T);
  EXPECT_GT(worst, 0.0) << "the bf16 cache rounds its rows";
  EXPECT_LT(worst, 0.02);
  EXPECT_GE(same, T - 2);
}

}  // namespace
}  // namespace kyutai
