// Hostile frames fed to streaming sessions and to Mimi: wrong lengths, ids out of range,
// NaN and infinite samples. Each is refused with a message naming it, and the session then
// continues bit for bit as a twin that never saw the bad frame (no state was touched:
// KV caches, the delay cache, the random generator, Mimi's convolution and transformer state).
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "codec/mimi.h"
#include "lm_fixture.h"
#include "robustness/robustness_util.h"
#include "session/asr_session.h"
#include "session/generation_sessions.h"
#include "test_util.h"

namespace kyutai {
namespace {

constexpr ErrorCode kArg = ErrorCode::InvalidArgument;

const LmModel& stt() { return *test::lm_fixture("stt").model; }
const LmModel& moshi() { return *test::lm_fixture("lm").model; }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(RobustFrames, AsrRefusesBadFramesAndContinuesUntouched) {
  AsrSession session(stt()), twin(stt());
  std::vector<int32_t> good(8, 5);
  session.push_frame(good.data(), 8);
  twin.push_frame(good.data(), 8);

  std::vector<int32_t> seven(7, 1), nine(9, 1);
  EXPECT_KYUTAI_ERROR(session.push_frame(seven.data(), 7), kArg, "expected 8 codebooks in the audio frame, got 7");
  EXPECT_KYUTAI_ERROR(session.push_frame(nine.data(), 9), kArg, "expected 8 codebooks in the audio frame, got 9");
  EXPECT_KYUTAI_ERROR(session.push_frame(nullptr, 0), kArg, "expected 8 codebooks in the audio frame, got 0");
  for (int32_t bad : {32, -2, INT_MIN, INT_MAX}) {
    std::vector<int32_t> frame(8, 1);
    frame[3] = bad;
    EXPECT_KYUTAI_ERROR(session.push_frame(frame.data(), 8), kArg,
                        "audio codebook 3: token " + std::to_string(bad) + " is out of range (expected -1 or 0..31)");
  }
  EXPECT_EQ(session.steps(), 1);
  for (int i = 0; i < 30; ++i) {  // past the 16-entry KV ring
    std::vector<int32_t> frame(8);
    for (int k = 0; k < 8; ++k) frame[k] = (i * 7 + k * 3) % 33 - 1;
    AsrStep a = session.push_frame(frame.data(), 8), b = twin.push_frame(frame.data(), 8);
    ASSERT_EQ(a.text_token, b.text_token) << "step " << i;
    ASSERT_TRUE(same_bits(a.text_logits, b.text_logits)) << "step " << i;
    ASSERT_TRUE(same_bits(a.vad, b.vad)) << "step " << i;
  }
}

TEST(RobustFrames, DuplexAndTtsRefuseBadInputAndContinueUntouched) {
  DuplexSession duplex(moshi(), test::sampled_params(7)), duplex_twin(moshi(), test::sampled_params(7));
  TtsSession tts(moshi(), test::sampled_params(8)), tts_twin(moshi(), test::sampled_params(8));
  std::vector<int32_t> user(8, 4);
  duplex.push_frame(user.data(), 8);
  duplex_twin.push_frame(user.data(), 8);

  std::vector<int32_t> sixteen(16, 1);
  EXPECT_KYUTAI_ERROR(duplex.push_frame(sixteen.data(), 16), kArg, "expected 8 codebooks in the user frame, got 16");
  EXPECT_KYUTAI_ERROR(duplex.push_frame(nullptr, 0), kArg, "expected 8 codebooks in the user frame, got 0");
  user[7] = 32;
  EXPECT_KYUTAI_ERROR(duplex.push_frame(user.data(), 8), kArg,
                      "user codebook 7: token 32 is out of range (expected -1 or 0..31)");
  user[7] = -2;
  EXPECT_KYUTAI_ERROR(duplex.push_frame(user.data(), 8), kArg,
                      "user codebook 7: token -2 is out of range (expected -1 or 0..31)");
  EXPECT_KYUTAI_ERROR(tts.push_text(101), kArg, "text token 101 is out of range (expected -1 or 0..100)");
  EXPECT_KYUTAI_ERROR(tts.push_text(-2), kArg, "text token -2 is out of range (expected -1 or 0..100)");
  EXPECT_KYUTAI_ERROR(tts.push_text(INT_MIN), kArg, "text token -2147483648 is out of range (expected -1 or 0..100)");

  for (int i = 0; i < 24; ++i) {
    std::vector<int32_t> frame(8);
    for (int k = 0; k < 8; ++k) frame[k] = (i * 5 + k) % 33 - 1;
    GeneratedFrame a = duplex.push_frame(frame.data(), 8), b = duplex_twin.push_frame(frame.data(), 8);
    ASSERT_EQ(a.step, b.step);
    ASSERT_EQ(a.text_token, b.text_token) << "step " << i;
    ASSERT_EQ(a.audio, b.audio) << "step " << i;
    int32_t text = (i * 13) % 102 - 1;
    GeneratedFrame c = tts.push_text(text), d = tts_twin.push_text(text);
    ASSERT_EQ(c.step, d.step);
    ASSERT_EQ(c.text_token, d.text_token);
    ASSERT_EQ(c.audio, d.audio) << "step " << i;
  }
}

TEST(RobustFrames, ModelInputsNameBadShapesAndTokens) {
  const LmModel& m = stt();
  MultistreamInput in;
  in.text = TokenTensor(1, 3, std::vector<int32_t>{1, 2, 101});
  EXPECT_KYUTAI_ERROR(
      m.forward_text(in), kArg,
      "text token 101 at batch 0, position 2 is out of range: expected -1 or 0..100 (100 = initial token)");
  in.text = TokenTensor(1, 3, std::vector<int32_t>{1, 2, 3});
  in.audio.assign(3, std::nullopt);
  EXPECT_KYUTAI_ERROR(m.forward_text(in), kArg, "expected 8 audio codebooks (or none), got 3");
  in.audio.assign(8, std::nullopt);
  in.audio[2] = TokenTensor(1, 4, std::vector<int32_t>{0, 0, 0, 0});
  EXPECT_KYUTAI_ERROR(m.forward_text(in), kArg,
                      "audio codebook 2 has shape [1, 4] but the other inputs are [1, 3]: B and T must match across "
                      "codebooks");
  EXPECT_KYUTAI_ERROR(TokenTensor(2, 3, std::vector<int32_t>(5)), kArg, "token tensor [2, 3] given 5 values");
  // 65536 x 65536 wraps to 0 in a 32-bit size_t (WebAssembly): still refused.
  EXPECT_KYUTAI_ERROR(TokenTensor(65536, 65536, std::vector<int32_t>()), kArg,
                      "token tensor [65536, 65536] given 0 values");
  // Whole-sequence buffers are bounded before they are allocated (widest row of the STT
  // fixture: 2 x int(4.125 x 64) = 528 values).
  MultistreamInput longer;
  longer.text = TokenTensor(1, 600000, std::vector<int32_t>(600000, 1));
  EXPECT_KYUTAI_ERROR(m.forward_text(longer), ErrorCode::LimitExceeded,
                      "a whole-sequence pass over B x T = 1 x 600000 positions needs 528 values per position and "
                      "buffer, beyond the limit of 268435456 values (kyutai-wasm kMaxSequenceValues); stream long "
                      "inputs step by step");
}

TEST(RobustFrames, MimiRefusesNonFiniteAudioAndBadCodesAndContinuesUntouched) {
  const Mimi& codec = test::mimi_fixture();
  const int fs = codec.frame_size();
  MimiState state = codec.new_state(), twin = codec.new_state();
  std::vector<float> pcm(fs);
  for (int i = 0; i < fs; ++i) pcm[i] = 0.3f * std::sin(0.01f * i);
  std::vector<int32_t> codes(state.codebooks), twin_codes(twin.codebooks);
  codec.encode_step(pcm.data(), state, codes.data());
  codec.encode_step(pcm.data(), twin, twin_codes.data());

  std::vector<float> bad = pcm;
  bad[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_KYUTAI_ERROR(codec.encode_step(bad.data(), state, codes.data()), kArg,
                      "Mimi: audio sample 7 is NaN; samples must be finite");
  bad[7] = pcm[7];
  bad[fs - 1] = -std::numeric_limits<float>::infinity();
  EXPECT_KYUTAI_ERROR(codec.encode_step(bad.data(), state, codes.data()), kArg,
                      "Mimi: audio sample " + std::to_string(fs - 1) + " is infinite; samples must be finite");
  std::vector<int32_t> bad_codes(state.codebooks, 0);
  bad_codes[5] = 32;
  std::vector<float> out(fs), twin_out(fs);
  EXPECT_KYUTAI_ERROR(codec.decode_step(bad_codes.data(), state, out.data()), kArg,
                      "Mimi: code 32 (codebook 5, frame 0) is out of range: codes are 0..31");
  bad_codes[5] = -1;
  EXPECT_KYUTAI_ERROR(codec.decode_step(bad_codes.data(), state, out.data()), kArg,
                      "Mimi: code -1 (codebook 5, frame 0) is out of range: codes are 0..31");
  EXPECT_KYUTAI_ERROR(
      codec.new_state(0), kArg,
      "Mimi: the number of codebooks must be between 1 (the semantic ones) and 8 (the checkpoint's), got 0");
  EXPECT_KYUTAI_ERROR(
      codec.new_state(9), kArg,
      "Mimi: the number of codebooks must be between 1 (the semantic ones) and 8 (the checkpoint's), got 9");
  MimiState blank;
  EXPECT_KYUTAI_ERROR(codec.encode_step(pcm.data(), blank, codes.data()), ErrorCode::InvalidState,
                      "Mimi: this state was not created by Mimi::new_state");
  // Huge but finite samples are valid input.
  bad = pcm;
  bad[11] = 3e38f;
  for (int f = 0; f < 12; ++f) {
    const std::vector<float>& in = f == 3 ? bad : pcm;
    codec.encode_step(in.data(), state, codes.data());
    codec.encode_step(in.data(), twin, twin_codes.data());
    ASSERT_EQ(codes, twin_codes) << "frame " << f;
    codec.decode_step(codes.data(), state, out.data());
    codec.decode_step(twin_codes.data(), twin, twin_out.data());
    ASSERT_TRUE(same_bits(out, twin_out)) << "frame " << f;
  }
}

}  // namespace
}  // namespace kyutai
