// Mimi::encode_to_latent (Kyutai's encode_to_latent(x, quantize=False), the voice latent)
// against Kyutai's latent of tests/data/mimi, and its refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "codec/mimi.h"
#include "core/error.h"
#include "lm_fixture.h"
#include "test_util.h"

namespace kyutai {
namespace {

const Json& mimi_vectors() { return test::vectors("mimi"); }

TEST(MimiLatent, EncodeToLatentGivesKyutaisUnquantizedLatent) {
  const Mimi& mimi = test::mimi_fixture();
  const std::vector<float> wav = test::tensor(mimi_vectors().at("input_wav")).f;
  const test::VTensor want = test::tensor(mimi_vectors().at("intermediates").at("latent_12_5hz"));  // [1, 32, 7]
  MimiLatent latent = mimi.encode_to_latent(wav.data(), wav.size());
  EXPECT_EQ(latent.dim, int(want.shape[1]));
  EXPECT_EQ(latent.frames, int(want.shape[2]));
  EXPECT_LT(test::max_abs_diff(latent.data, want.f), 1e-4);
  // The same numbers encode() quantizes: one path for both.
  MimiIntermediates inter;
  mimi.encode(wav.data(), wav.size(), mimi.num_codebooks(), &inter);
  EXPECT_EQ(latent.data, inter.latent);
}

TEST(MimiLatent, ChunkingDoesNotChangeTheLatent) {
  const std::vector<float> wav = test::tensor(mimi_vectors().at("input_wav")).f;
  auto bytes = test::read_file(test::data_path("mimi/weights.safetensors"));
  auto mimi = load_mimi(MimiConfig::parse(test::read_text(test::data_path("mimi/config.json"))), bytes.data(),
                        bytes.size());
  MimiLatent whole = mimi->encode_to_latent(wav.data(), wav.size());
  mimi->set_whole_clip_chunk_frames(2);  // 7 frames in chunks of 2, 2, 2, 1
  MimiLatent chunked = mimi->encode_to_latent(wav.data(), wav.size());
  EXPECT_LT(test::max_abs_diff(chunked.data, whole.data), 1e-5);
}

TEST(MimiLatent, RefusesEmptyAndNonFiniteAudio) {
  const Mimi& mimi = test::mimi_fixture();
  std::vector<float> wav(3000, 0.1f);
  auto code_of = [&](const float* pcm, size_t n) {
    try {
      mimi.encode_to_latent(pcm, n);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  EXPECT_EQ(code_of(wav.data(), 0), ErrorCode::InvalidArgument);
  wav[1234] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(code_of(wav.data(), wav.size()), ErrorCode::InvalidArgument);
  wav[1234] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(code_of(wav.data(), wav.size()), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace kyutai
