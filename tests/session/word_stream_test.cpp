// Kyutai's word rules on hand-made token sequences (padding 3, end-of-padding 0).
#include <gtest/gtest.h>

#include "session/word_stream.h"

namespace kyutai {
namespace {

using Kind = WordEvent::Kind;

std::vector<WordEvent> run(WordStream& s, const std::vector<int32_t>& tokens) {
  std::vector<WordEvent> out;
  for (int32_t t : tokens) s.push(t, &out);
  return out;
}

void expect_word(const WordEvent& e, std::vector<int32_t> tokens, double start) {
  EXPECT_EQ(e.kind, Kind::Word);
  EXPECT_EQ(e.tokens, tokens);
  EXPECT_DOUBLE_EQ(e.time, start);
}

void expect_end(const WordEvent& e, double stop) {
  EXPECT_EQ(e.kind, Kind::EndWord);
  EXPECT_DOUBLE_EQ(e.time, stop);
}

TEST(WordStream, WordEndingInEndOfPaddingIsEmittedAndEndedAtThatStep) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {7, 8, 0});
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {7, 8}, 0.0);
  expect_end(ev[1], 3 / 12.5);
}

TEST(WordStream, WordEndingInPaddingStaysUnendedUntilTheNextEndOfPadding) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {7, 3, 3});
  ASSERT_EQ(ev.size(), 1u);
  expect_word(ev[0], {7}, 0.0);
  ev = run(s, {3, 0});
  ASSERT_EQ(ev.size(), 1u);
  expect_end(ev[0], 5 / 12.5);
}

TEST(WordStream, RunsOfPaddingEmitNothingButEndOfPaddingMovesTheNextStart) {
  WordStream s(0, 3, 0);
  EXPECT_TRUE(run(s, {3, 3, 3, 0, 3, 3, 0, 3}).empty());
  auto ev = run(s, {9, 10, 0});
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {9, 10}, 7 / 12.5);  // start = the last end-of-padding stamp (step 7)
  expect_end(ev[1], 11 / 12.5);
}

TEST(WordStream, ConsecutiveWordsStartWhereThePreviousStopped) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {5, 0, 6, 6, 0, 3, 7, 3});
  ASSERT_EQ(ev.size(), 5u);
  expect_word(ev[0], {5}, 0.0);
  expect_end(ev[1], 2 / 12.5);
  expect_word(ev[2], {6, 6}, 2 / 12.5);
  expect_end(ev[3], 5 / 12.5);
  expect_word(ev[4], {7}, 5 / 12.5);
}

TEST(WordStream, NothingIsReportedInsideTheDelayWindow) {
  WordStream s(6, 3, 0);
  // Steps 1..5 are ignored entirely, even a word-like token and an end-of-padding.
  EXPECT_TRUE(run(s, {11, 12, 0, 13, 0}).empty());
  EXPECT_FALSE(s.word_open());
  auto ev = run(s, {14, 15, 0});  // steps 6, 7, 8
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {14, 15}, 0.0);
  expect_end(ev[1], (8 - 6) / 12.5);
}

TEST(WordStream, TimestampsAreExactFrames) {
  WordStream s(6, 3, 0);
  std::vector<int32_t> tokens(6, 3);  // the delay window
  for (int i = 0; i < 37; ++i) tokens.push_back(3);
  tokens.push_back(0);   // step 44: stop (44 - 6) / 12.5 = 3.04 s
  tokens.push_back(21);  // step 45
  tokens.push_back(0);   // step 46
  auto ev = run(s, tokens);
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {21}, 38 / 12.5);
  expect_end(ev[1], 40 / 12.5);
  EXPECT_DOUBLE_EQ(ev[0].time, 3.04);
}

TEST(WordStream, FlushEmitsAWordStillOpenAndEndsIt) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {4, 0, 8, 9});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(s.word_open());
  std::vector<WordEvent> tail;
  s.flush(&tail);
  ASSERT_EQ(tail.size(), 2u);
  expect_word(tail[0], {8, 9}, 2 / 12.5);
  expect_end(tail[1], 4 / 12.5);
  tail.clear();
  s.flush(&tail);
  EXPECT_TRUE(tail.empty()) << "a second flush has nothing left";
}

TEST(WordStream, FlushEndsAnEmittedButUnendedWord) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {4, 3, 3});
  ASSERT_EQ(ev.size(), 1u);
  std::vector<WordEvent> tail;
  s.flush(&tail);
  ASSERT_EQ(tail.size(), 1u);
  expect_end(tail[0], 3 / 12.5);
}

TEST(WordStream, NegativeTokensCountAsStepsButAreNeitherPiecesNorPadding) {
  WordStream s(0, 3, 0);
  auto ev = run(s, {7, -1, 8, -1, 0});
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {7, 8}, 0.0);
  expect_end(ev[1], 5 / 12.5);
}

TEST(WordStream, ResetStartsOver) {
  WordStream s(2, 3, 0);
  run(s, {1, 2, 5, 6});
  s.reset();
  EXPECT_EQ(s.steps(), 0);
  EXPECT_FALSE(s.word_open());
  auto ev = run(s, {1, 7, 0});
  ASSERT_EQ(ev.size(), 2u);
  expect_word(ev[0], {7}, 0.0);
}

// SessionWords: the same rule, paired per step as the live sessions report it.
TEST(SessionWords, AWordEndedAtTheStepThatGivesItCarriesItsEnd) {
  SessionWords s(0, 3, 0);
  EXPECT_TRUE(s.push(7).words.empty());
  WordUpdate u = s.push(0);
  ASSERT_EQ(u.words.size(), 1u);
  EXPECT_EQ(u.words[0].tokens, std::vector<int32_t>({7}));
  EXPECT_DOUBLE_EQ(u.words[0].start, 0.0);
  ASSERT_TRUE(u.words[0].end.has_value());
  EXPECT_DOUBLE_EQ(*u.words[0].end, 2 / 12.5);
  EXPECT_FALSE(u.ended.has_value());
}

TEST(SessionWords, AWordEndedLaterComesBackAsEndedWithItsEnd) {
  SessionWords s(0, 3, 0);
  s.push(7);
  WordUpdate given = s.push(3);
  ASSERT_EQ(given.words.size(), 1u);
  EXPECT_FALSE(given.words[0].end.has_value());
  EXPECT_FALSE(s.push(3).ended.has_value());
  WordUpdate later = s.push(0);
  EXPECT_TRUE(later.words.empty());
  ASSERT_TRUE(later.ended.has_value());
  EXPECT_EQ(later.ended->tokens, std::vector<int32_t>({7}));
  EXPECT_DOUBLE_EQ(*later.ended->end, 4 / 12.5);
  EXPECT_FALSE(s.push(0).ended.has_value());  // ended once
}

TEST(SessionWords, FlushGivesThePendingPiecesEndedNowAndResetStartsOver) {
  SessionWords s(2, 3, 0);
  for (int32_t t : {5, 7, 8}) EXPECT_TRUE(s.push(t).words.empty());  // the first step is inside the delay
  std::vector<Word> last = s.flush().words;
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].tokens, std::vector<int32_t>({7, 8}));
  EXPECT_DOUBLE_EQ(*last[0].end, 1 / 12.5);
  EXPECT_TRUE(s.flush().words.empty());
  s.push(9);
  s.reset();
  EXPECT_TRUE(s.flush().words.empty());
}

// SessionWords given once ended (the transcriber's words): whole words, each once its end is known.
void expect_whole(const Word& w, std::vector<int32_t> tokens, double start, double end) {
  EXPECT_EQ(w.tokens, tokens);
  EXPECT_DOUBLE_EQ(w.start, start);
  ASSERT_TRUE(w.end.has_value());
  EXPECT_DOUBLE_EQ(*w.end, end);
}

TEST(SessionWordsOnceEnded, AWordIsGivenAtTheEndOfPaddingThatEndsIt) {
  SessionWords s(0, 3, 0, 12.5, WordTiming::OnceEnded);
  EXPECT_TRUE(s.push(1).words.empty());
  EXPECT_TRUE(s.push(2).words.empty());
  WordUpdate u = s.push(0);
  ASSERT_EQ(u.words.size(), 1u);
  expect_whole(u.words[0], {1, 2}, 0, 3 / 12.5);
  EXPECT_EQ(u.started, 1);
  EXPECT_FALSE(u.ended.has_value()) << "never given twice";
}

TEST(SessionWordsOnceEnded, AWordLeftUnendedByPaddingEndsWhereTheNextStarts) {
  SessionWords s(0, 3, 0, 12.5, WordTiming::OnceEnded);
  s.push(1);
  s.push(0);  // [1] ends at 2 / 12.5, where the next word starts
  s.push(5);
  WordUpdate closed = s.push(3);
  EXPECT_TRUE(closed.words.empty()) << "closed by padding: its end is not known yet";
  EXPECT_EQ(closed.started, 1) << "its pieces are complete: a turn starts here";
  s.push(6);
  WordUpdate next = s.push(3);
  ASSERT_EQ(next.words.size(), 1u);
  expect_whole(next.words[0], {5}, 2 / 12.5, 2 / 12.5);  // the model never said when it ended
  EXPECT_EQ(next.started, 1);
  WordUpdate ended = s.push(0);
  ASSERT_EQ(ended.words.size(), 1u);
  expect_whole(ended.words[0], {6}, 2 / 12.5, 7 / 12.5);
  EXPECT_EQ(ended.started, 0);
  EXPECT_TRUE(s.push(0).words.empty()) << "an end-of-padding with no word waiting gives nothing";
}

TEST(SessionWordsOnceEnded, FlushGivesTheWaitingWordAndThePendingPiecesEndedNow) {
  SessionWords s(0, 3, 0, 12.5, WordTiming::OnceEnded);
  for (int32_t t : {4, 3, 8, 9}) EXPECT_TRUE(s.push(t).words.empty());
  WordUpdate last = s.flush();
  ASSERT_EQ(last.words.size(), 2u);
  expect_whole(last.words[0], {4}, 0, 0);
  expect_whole(last.words[1], {8, 9}, 0, 4 / 12.5);
  EXPECT_EQ(last.started, 1);
  EXPECT_TRUE(s.flush().words.empty());
  s.push(7);
  s.push(3);
  last = s.flush();
  ASSERT_EQ(last.words.size(), 1u);
  expect_whole(last.words[0], {7}, 4 / 12.5, 6 / 12.5);
}

TEST(SessionWordsOnceEnded, ResetForgetsTheWaitingWord) {
  SessionWords s(0, 3, 0, 12.5, WordTiming::OnceEnded);
  s.push(1);
  s.push(3);
  s.reset();
  EXPECT_TRUE(s.flush().words.empty());
  s.push(2);
  EXPECT_EQ(s.push(0).words.size(), 1u);
}

TEST(SessionWords, GivenAtOnceAWordLeftUnendedKeepsAnUnknownEnd) {
  // Kyutai's stream never ends it; the live sessions report what it says (OnceEnded differs).
  SessionWords s(0, 3, 0);
  s.push(5);
  EXPECT_EQ(s.push(3).words.size(), 1u);
  s.push(6);
  WordUpdate next = s.push(3);
  ASSERT_EQ(next.words.size(), 1u);
  EXPECT_FALSE(next.ended.has_value());
  WordUpdate ended = s.push(0);
  ASSERT_TRUE(ended.ended.has_value());
  EXPECT_EQ(ended.ended->tokens, std::vector<int32_t>({6}));
}

}  // namespace
}  // namespace kyutai
