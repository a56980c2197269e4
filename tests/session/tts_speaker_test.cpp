// The TTS speaker session against Kyutai's generations (tests/data/tts): a whole script and
// the same text streamed word by word give Kyutai's frames and word timings; Mimi decodes the
// frames past delay_steps; bad input is refused with a code before anything runs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "lm_fixture.h"
#include "session/tts_speaker.h"
#include "test_util.h"

namespace kyutai {
namespace {

const Json& tts_case(const std::string& name) { return test::vectors("tts").at("cases").at(name); }

struct SpeakerRun {
  std::vector<std::vector<int32_t>> frames;
  std::vector<TtsWordTiming> words;
  std::vector<float> pcm;
  int pcm_steps = 0;  // steps that returned PCM
};

// Steps while the speaker can, collecting frames, words and PCM.
void drain(TtsSpeaker& speaker, SpeakerRun& run) {
  while (speaker.running() && speaker.ready()) {
    TtsSpeakerStep s = speaker.step();
    if (!s.frame.empty()) run.frames.push_back(s.frame);
    run.words.insert(run.words.end(), s.words.begin(), s.words.end());
    if (!s.pcm.empty()) ++run.pcm_steps;
    run.pcm.insert(run.pcm.end(), s.pcm.begin(), s.pcm.end());
  }
}

// The case's script spoken whole, with the case's step budget.
SpeakerRun speak_whole(const std::string& variant, const Json& c, const Mimi* codec = nullptr) {
  test::TtsFixture& f = test::tts_fixture(variant);
  TtsGenerateOptions options;
  options.max_gen_length = int(c.at("max_gen_length").as_number());
  TtsSpeaker speaker(*f.model, test::tts_tokenizer(), f.voice, 2.0, options, codec);
  speaker.push_text(c.at("script").as_array()[0].as_string());
  speaker.end();
  SpeakerRun run;
  drain(speaker, run);
  EXPECT_FALSE(speaker.running());
  return run;
}

void expect_kyutai_generation(const SpeakerRun& run, const Json& c) {
  test::VTensor frames = test::tensor(c.at("frames"));
  const int nf = int(c.at("num_frames").as_number()), rows = int(frames.shape[0]);
  ASSERT_EQ(int(run.frames.size()), nf);
  for (int i = 0; i < nf; ++i)
    for (int k = 0; k < rows; ++k)
      ASSERT_EQ(run.frames[i][k], frames.i[size_t(k) * nf + i]) << "frame " << i << " k " << k;
  const auto& transcript = c.at("transcript").as_array();
  ASSERT_EQ(run.words.size(), transcript.size());
  for (size_t i = 0; i < transcript.size(); ++i) {
    EXPECT_EQ(run.words[i].text, transcript[i].as_array()[0].as_string());
    EXPECT_EQ(run.words[i].step, int(transcript[i].as_array()[1].as_number()));
  }
}

TEST(TtsSpeaker, WholeScriptGivesKyutaisFramesAndWordTimings) {
  const Json& c = tts_case("generation");
  expect_kyutai_generation(speak_whole("", c), c);
}

TEST(TtsSpeaker, RealCfgModelGivesKyutaisFramesAndWordTimings) {
  const Json& c = tts_case("generation_real_cfg");
  expect_kyutai_generation(speak_whole("_nocfg", c), c);
}

TEST(TtsSpeaker, TextStreamedWordByWordGivesTheSameGeneration) {
  const Json& c = tts_case("generation");
  test::TtsFixture& f = test::tts_fixture();
  TtsSpeaker speaker(*f.model, test::tts_tokenizer(), f.voice, 2.0);
  EXPECT_FALSE(speaker.ready());  // no text yet: the state machine would end the script
  SpeakerRun run;
  // Split inside words too: a word is complete only once whitespace follows it.
  for (const char* piece : {"Hel", "lo ", "world, ", "th", "is ", "is"}) {
    speaker.push_text(piece);
    drain(speaker, run);
  }
  EXPECT_TRUE(speaker.running());
  speaker.end();
  drain(speaker, run);
  EXPECT_FALSE(speaker.running());
  expect_kyutai_generation(run, c);
}

TEST(TtsSpeaker, CodecDecodesEveryFramePastTheDelaySteps) {
  const Mimi& mimi = test::mimi_fixture();
  const Json& c = tts_case("generation");
  SpeakerRun run = speak_whole("", c, &mimi);
  const int delay_steps = test::tts_fixture().config.tts_config->delay_steps();
  ASSERT_EQ(run.pcm_steps, int(run.frames.size()) - delay_steps);
  // Kyutai decodes the frames past delay_steps in order: the same codes through a fresh
  // Mimi stream give the same samples (a dropped, repeated or shifted frame would not).
  const int Q = int(run.frames[0].size()) - 1;
  MimiState st = mimi.new_state(Q);
  std::vector<float> want(run.pcm.size());
  for (int i = 0; i < run.pcm_steps; ++i)
    mimi.decode_step(run.frames[size_t(i + delay_steps)].data() + 1, st, want.data() + size_t(i) * mimi.frame_size());
  EXPECT_EQ(run.pcm, want);
  EXPECT_GT(test::max_abs_diff(run.pcm, std::vector<float>(run.pcm.size(), 0.f)), 0.0);
}

void expect_error(ErrorCode code, const std::function<void()>& call) {
  try {
    call();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

TEST(TtsSpeaker, BadInputIsRefusedWithACode) {
  test::TtsFixture& f = test::tts_fixture();
  const SentencePiece& tok = test::tts_tokenizer();
  // cfg not among the distilled values; not finite.
  expect_error(ErrorCode::InvalidArgument, [&] { TtsSpeaker(*f.model, tok, f.voice, 2.2); });
  expect_error(ErrorCode::InvalidArgument, [&] { TtsSpeaker(*f.model, tok, f.voice, std::nan("")); });
  // A model that is not a TTS model.
  expect_error(ErrorCode::Unsupported, [&] { TtsSpeaker(*test::lm_fixture("lm").model, tok, f.voice, 2.0); });
  // More codebooks than the model has.
  TtsGenerateOptions all;
  all.n_q = f.config.dep_q + 1;
  expect_error(ErrorCode::InvalidArgument, [&] { TtsSpeaker(*f.model, tok, f.voice, 2.0, all); });

  TtsSpeaker speaker(*f.model, tok, f.voice, 2.0);
  expect_error(ErrorCode::InvalidState, [&] { speaker.step(); });  // no text yet
  expect_error(ErrorCode::InvalidArgument, [&] { speaker.push_text("a <break time=\"1x5s\"/> b "); });
  speaker.push_text("Hello ");  // the refused text left nothing behind
  speaker.end();
  expect_error(ErrorCode::InvalidState, [&] { speaker.push_text("more"); });
  SpeakerRun run;
  drain(speaker, run);
  EXPECT_FALSE(speaker.running());
  ASSERT_FALSE(run.words.empty());
  EXPECT_EQ(run.words[0].text, "Hello");
  expect_error(ErrorCode::InvalidState, [&] { speaker.step(); });
}

TEST(TtsSpeaker, MalformedBreakIsRefusedWhenPushedAndTheSpeakerFinishes) {
  test::TtsFixture& f = test::tts_fixture();
  TtsSpeaker speaker(*f.model, test::tts_tokenizer(), f.voice, 2.0);
  speaker.push_text("Hello ");
  // No whitespace follows the tag: it used to wait in the pending text and make end() throw
  // for good. Python's float() refuses "0x5" (strtod would read hex) and "1x5".
  expect_error(ErrorCode::InvalidArgument, [&] { speaker.push_text("<break time=\"0x5s\"/>"); });
  expect_error(ErrorCode::InvalidArgument, [&] { speaker.push_text("world<break time=\"1x5s\"/>"); });
  speaker.push_text("world");
  speaker.end();
  SpeakerRun run;
  drain(speaker, run);
  EXPECT_FALSE(speaker.running());
  ASSERT_EQ(run.words.size(), 2u);
  EXPECT_EQ(run.words[1].text, "world");
}

TEST(TtsSpeaker, WordsCompleteAtUnicodeWhitespaceAndPlainAngleBrackets) {
  test::TtsFixture& f = test::tts_fixture();
  auto words_ready = [&](const std::string& text) {
    TtsSpeaker speaker(*f.model, test::tts_tokenizer(), f.voice, 2.0);
    speaker.push_text(text);
    return speaker.ready();
  };
  // ready() needs more than second_stream_ahead (2) complete words.
  EXPECT_TRUE(
      words_ready("one\xC2\xA0"
                  "two\xE3\x80\x80"
                  "three\xE2\x80\xA8"
                  "four"));                                               // NBSP, ideographic, line sep.
  EXPECT_FALSE(words_ready("one\xE2\x80\x8Btwo\xE2\x80\x8Bthree four"));  // zero-width space is no whitespace
  EXPECT_TRUE(words_ready("a < b and more "));                            // a '<' that opens no <break> tag
  EXPECT_FALSE(words_ready("a b <break time=\"0.5s\" "));                 // a tag still open holds its words back
}

}  // namespace
}  // namespace kyutai
