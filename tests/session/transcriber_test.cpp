// The STT transcriber on the tiny conformance checkpoints: STT LM (8 codebooks of 32, 4 VAD
// heads) and Mimi (8 codebooks of 32: its codes are valid tokens for that LM).
#include <gtest/gtest.h>

#include <cmath>

#include "codec/mimi.h"
#include "lm/sampling.h"
#include "lm_fixture.h"
#include "session/transcriber.h"
#include "session/turn_detector.h"
#include "test_util.h"

namespace kyutai {
namespace {

const LmModel& stt() { return *test::lm_fixture("stt").model; }

std::vector<float> speech_like(int frames) {
  std::vector<float> pcm(size_t(frames) * 1920);
  for (size_t i = 0; i < pcm.size(); ++i)
    pcm[i] = 0.3f * std::sin(0.02f * float(i)) * std::sin(0.0007f * float(i)) + 0.05f * std::sin(0.31f * float(i));
  return pcm;
}

using Type = TranscriptEvent::Type;

TEST(Transcriber, AudioFramesGiveOneVadEventPerFrameWithIncreasingTimes) {
  Transcriber t(stt(), &test::mimi_fixture());
  auto pcm = speech_like(12);
  double last = -1;
  int vad = 0;
  for (int f = 0; f < 12; ++f) {
    auto events = t.push_audio(pcm.data() + size_t(f) * 1920, 1920).events;
    for (const auto& e : events) {
      if (e.type == Type::Word) continue;  // a word's times are its start and end, checked below
      EXPECT_GE(e.time, last - 1e-9);
      if (e.type == Type::Vad) {
        ++vad;
        ASSERT_EQ(e.pause.size(), 4u);
        for (float p : e.pause) EXPECT_TRUE(p >= 0 && p <= 1);
        last = e.time;
      }
    }
  }
  EXPECT_EQ(vad, 12);
  EXPECT_EQ(t.steps(), 12);
}

TEST(Transcriber, MatchesTheAsrSessionOnTheCodecsTokens) {
  // The transcriber is the ASR session fed Mimi's streaming codes: same steps, same heads.
  Transcriber t(stt(), &test::mimi_fixture());
  AsrSession reference(stt());
  MimiState state = test::mimi_fixture().new_state(8);
  auto pcm = speech_like(6);
  std::vector<int32_t> codes(8);
  for (int f = 0; f < 6; ++f) {
    test::mimi_fixture().encode_step(pcm.data() + size_t(f) * 1920, state, codes.data());
    AsrStep expected = reference.push_frame(codes.data(), 8);
    TranscriberStep step = t.push_audio(pcm.data() + size_t(f) * 1920, 1920);
    // The frame's one result: the step, its text token and the codes it was given.
    EXPECT_EQ(step.step, expected.step);
    EXPECT_EQ(step.text_token, expected.text_token);
    EXPECT_EQ(step.codes, codes);
    const TranscriptEvent* vad = nullptr;
    for (const auto& e : step.events)
      if (e.type == Type::Vad) vad = &e;
    ASSERT_NE(vad, nullptr);
    for (int h = 0; h < 4; ++h) EXPECT_EQ(vad->pause[h], expected.vad[size_t(h) * 6]);
  }
}

TEST(Transcriber, FlushFeedsTheDelayPlusOneSecondAndEveryWordComesWholeWithItsEnd) {
  Transcriber t(stt(), &test::mimi_fixture());
  auto pcm = speech_like(8);
  std::vector<Word> words;
  auto collect = [&](const std::vector<TranscriptEvent>& ev) {
    for (const auto& e : ev)
      if (e.type == Type::Word) words.push_back(e.word);
  };
  for (int f = 0; f < 8; ++f) collect(t.push_audio(pcm.data() + size_t(f) * 1920, 1920).events);
  const int64_t before = t.steps();
  collect(t.flush());
  // stt_config.audio_delay_seconds = 0.5: (0.5 + 1) * 12.5 = 19 frames of silence (rounded up).
  EXPECT_EQ(t.steps() - before, 19);
  ASSERT_GT(words.size(), 0u);
  double previous_end = 0;
  for (const Word& w : words) {
    EXPECT_FALSE(w.tokens.empty());
    for (int32_t p : w.tokens) EXPECT_TRUE(p != 3 && p != 0) << "padding is never part of a word";
    ASSERT_TRUE(w.end.has_value()) << "a transcriber's word is given once ended";
    EXPECT_LE(w.start, *w.end);
    EXPECT_GE(w.start, previous_end - 1e-9) << "words do not overlap";
    previous_end = *w.end;
  }
  const int delay = stt().config().effective_asr_delay_in_tokens();
  EXPECT_LE(previous_end, (8 + 19 - delay) / 12.5 + 1e-9) << "the last word ends by the end of the flush";
}

TEST(TurnDetector, FiresOncePerTurnAndNeverBeforeTheFirstWord) {
  TurnDetector d(0.5f);
  EXPECT_FALSE(d.on_pause(0.9f)) << "no turn yet";
  d.on_word();
  EXPECT_FALSE(d.on_pause(0.4f));
  EXPECT_FALSE(d.on_pause(0.5f)) << "strictly above the threshold";
  EXPECT_TRUE(d.on_pause(0.51f));
  EXPECT_FALSE(d.on_pause(0.99f)) << "once per turn";
  d.on_word();
  d.on_word();
  EXPECT_TRUE(d.on_pause(0.7f));
  d.on_word();
  d.reset();
  EXPECT_FALSE(d.on_pause(0.9f));
}

TEST(Transcriber, EndOfTurnEventsCarryTheChosenHeadsProbability) {
  TranscriberOptions o;
  o.end_of_turn_threshold = 0.0f;  // any pause ends a turn: only the word rule limits events
  o.vad_head = 1;
  o.asr.temperature = 1.0f;  // random weights: sampling makes the tiny model spell words
  o.asr.seed = 3;
  Transcriber t(stt(), nullptr, o);
  Random rng(5);
  int words = 0, eot = 0;
  float last_pause = -1;
  for (int f = 0; f < 200 && eot < 2; ++f) {
    std::vector<int32_t> codes(8);
    for (auto& c : codes) c = int32_t(rng.next() % 32);
    for (const auto& e : t.push_codes(codes.data(), 8).events) {
      if (e.type == Type::Word) ++words;
      if (e.type == Type::Vad) last_pause = e.pause[1];
      if (e.type == Type::EndOfTurn) {
        ++eot;
        EXPECT_GT(words, 0);
        EXPECT_EQ(e.probability, last_pause);
      }
    }
  }
  EXPECT_GT(eot, 0) << "sampled text spells words within 200 steps";
}

TEST(Transcriber, TokenFramesWithoutACodec) {
  Transcriber t(stt(), nullptr);
  std::vector<int32_t> codes(8, 5);
  auto ev = t.push_codes(codes.data(), 8);
  EXPECT_EQ(t.steps(), 1);
  EXPECT_THROW(t.push_audio(nullptr, 1920), Error);
  EXPECT_THROW(t.push_codes(codes.data(), 7), Error);
  t.flush();
  EXPECT_EQ(t.steps(), 1 + 19);
}

TEST(Transcriber, BadAudioIsRefusedAndTheStreamContinues) {
  Transcriber a(stt(), &test::mimi_fixture()), b(stt(), &test::mimi_fixture());
  auto pcm = speech_like(3);
  std::vector<float> bad(pcm.begin(), pcm.begin() + 1920);
  bad[100] = NAN;
  a.push_audio(pcm.data(), 1920);
  b.push_audio(pcm.data(), 1920);
  EXPECT_THROW(a.push_audio(bad.data(), 1920), Error);
  EXPECT_THROW(a.push_audio(pcm.data(), 1000), Error);
  for (int f = 1; f < 3; ++f) {
    auto x = a.push_audio(pcm.data() + size_t(f) * 1920, 1920).events,
         y = b.push_audio(pcm.data() + size_t(f) * 1920, 1920).events;
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].pause, y[i].pause);
  }
}

TEST(Transcriber, ResetRepeatsTheSameEvents) {
  Transcriber t(stt(), &test::mimi_fixture());
  auto pcm = speech_like(5);
  auto run = [&] {
    std::vector<float> all;
    for (int f = 0; f < 5; ++f)
      for (const auto& e : t.push_audio(pcm.data() + size_t(f) * 1920, 1920).events)
        all.insert(all.end(), e.pause.begin(), e.pause.end());
    return all;
  };
  auto first = run();
  t.reset();
  EXPECT_EQ(run(), first);
}

TEST(Transcriber, RejectsACodecThatDoesNotFitTheModel) {
  TranscriberOptions o;
  o.vad_head = 7;
  EXPECT_THROW(Transcriber(stt(), &test::mimi_fixture(), o), Error);
}

}  // namespace
}  // namespace kyutai
