// Voices: a latent made into a Voice equals load_voice of a file holding it (voice_file writes
// the kyutai/tts-voices layout), a voice from a recording follows Kyutai's voice script (the
// first `seconds`, zero-padded, Mimi's un-quantized latent) and drives a speaker; bad input
// is refused with a code.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "lm_fixture.h"
#include "session/tts_speaker.h"
#include "session/tts_voice.h"
#include "test_util.h"

namespace kyutai {
namespace {

ErrorCode code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.code();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorCode::Internal;
}

// Kyutai's Mimi input clip (0.5 s) followed by silence up to `samples`.
std::vector<float> recording(size_t samples) {
  std::vector<float> wav = test::tensor(test::vectors("mimi").at("input_wav")).f;
  wav.resize(samples, 0.0f);
  return wav;
}

TEST(TtsVoice, VoiceFileRoundTripsThroughLoadVoice) {
  const std::vector<uint8_t> file = test::read_file(test::data_path("tts/voice_a.safetensors"));
  const Voice voice = load_voice(file.data(), file.size());
  EXPECT_EQ(voice_file(voice), file) << "voice_file writes Kyutai's layout: speaker_wavs F32 [1, C, T]";
  const Voice same = Voice::from_latent(voice.channels, voice.length, voice.latent);
  const std::vector<uint8_t> written = voice_file(same);
  const Voice loaded = load_voice(written.data(), written.size());
  EXPECT_EQ(loaded.channels, voice.channels);
  EXPECT_EQ(loaded.length, voice.length);
  EXPECT_EQ(loaded.latent, voice.latent);
}

TEST(TtsVoice, RecordingGivesMimisLatentOfTheClipCutOrPaddedToItsLength) {
  const Mimi& mimi = test::mimi_fixture();
  const size_t second = size_t(mimi.sample_rate());
  // 1 s: 24000 samples -> 13 frames (12.5, the last zero-padded as Kyutai's encode does).
  std::vector<float> wav = recording(second);
  Voice voice = voice_from_recording(mimi, wav.data(), wav.size(), 1.0);
  EXPECT_EQ(voice.channels, mimi.config().seanet.dimension);
  EXPECT_EQ(voice.length, 13);
  MimiLatent latent = mimi.encode_to_latent(wav.data(), wav.size());
  EXPECT_EQ(voice.latent, latent.data);
  // Mimi's encoder is causal: the first 7 frames are Kyutai's latent of the 0.5 s clip.
  const test::VTensor kyutai = test::tensor(test::vectors("mimi").at("intermediates").at("latent_12_5hz"));
  const int kf = int(kyutai.shape[2]);
  double worst = 0;
  for (int c = 0; c < voice.channels; ++c)
    for (int t = 0; t < kf; ++t)
      worst = std::max(worst,
                       double(std::fabs(voice.latent[size_t(c) * voice.length + t] - kyutai.f[size_t(c) * kf + t])));
  EXPECT_LT(worst, 1e-4);
  // A longer recording is cut to the clip length; a shorter one padded with silence.
  std::vector<float> longer = recording(3 * second);
  longer[2 * second] = 0.5f;  // past the clip: must not matter
  EXPECT_EQ(voice_from_recording(mimi, longer.data(), longer.size(), 1.0).latent, voice.latent);
  Voice ten = voice_from_recording(mimi, wav.data(), wav.size());  // Kyutai's 10 s voices
  EXPECT_EQ(ten.length, kVoiceFrames);
  std::vector<float> padded = recording(size_t(kVoiceSeconds * second));
  EXPECT_EQ(ten.latent, mimi.encode_to_latent(padded.data(), padded.size()).data);
}

TEST(TtsVoice, SpeakerRunsOnARecordedVoiceAsOnItsFile) {
  const Mimi& mimi = test::mimi_fixture();
  test::TtsFixture& f = test::tts_fixture();
  std::vector<float> wav = recording(size_t(mimi.sample_rate()) * 2);
  const Voice voice = voice_from_recording(mimi, wav.data(), wav.size());
  const std::vector<uint8_t> file = voice_file(voice);
  auto speak = [&](const Voice& v) {
    TtsSpeaker speaker(*f.model, test::tts_tokenizer(), v, 2.0, {}, &mimi);
    speaker.push_text("Hello world");
    speaker.end();
    std::vector<std::vector<int32_t>> frames;
    int pcm_frames = 0;
    while (speaker.running()) {
      TtsSpeakerStep s = speaker.step();
      if (!s.frame.empty()) frames.push_back(s.frame);
      pcm_frames += !s.pcm.empty();
    }
    EXPECT_GT(pcm_frames, 0);
    return frames;
  };
  const auto recorded = speak(voice);
  ASSERT_FALSE(recorded.empty());
  EXPECT_EQ(speak(load_voice(file.data(), file.size())), recorded);
  // The voice conditions the speech: voice_a gives other frames.
  EXPECT_NE(speak(f.voice), recorded);
}

TEST(TtsVoice, BadRecordingsAndLatentsAreRefused) {
  const Mimi& mimi = test::mimi_fixture();
  const size_t second = size_t(mimi.sample_rate());
  std::vector<float> wav = recording(2 * second);
  auto from = [&](size_t samples, double seconds) {
    return [&, samples, seconds] { voice_from_recording(mimi, wav.data(), samples, seconds); };
  };
  EXPECT_EQ(code_of(from(second - 1, 10.0)), ErrorCode::InvalidArgument);  // under 1 s
  EXPECT_EQ(code_of(from(0, 10.0)), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of(from(wav.size(), 0.5)), ErrorCode::InvalidArgument);  // clip length out of range
  EXPECT_EQ(code_of(from(wav.size(), 61.0)), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of(from(wav.size(), std::nan(""))), ErrorCode::InvalidArgument);
  wav[100] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(code_of(from(wav.size(), 1.0)), ErrorCode::InvalidArgument);

  EXPECT_EQ(code_of([] { Voice::from_latent(32, 2, std::vector<float>(63)); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] { Voice::from_latent(0, 2, {}); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] { Voice::from_latent(32, 0, {}); }), ErrorCode::InvalidArgument);
  std::vector<float> latent(64, 0.5f);
  latent[7] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(code_of([&] { Voice::from_latent(32, 2, latent); }), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace kyutai
