// Kyutai's TTS script parsing and state machine against the traces of its own code
// (tests/data/tts/vectors.json, cases.state_machine and the generation cases' entries).
#include <gtest/gtest.h>

#include "core/error.h"
#include "session/tts_state_machine.h"
#include "test_util.h"
#include "text/sentencepiece.h"
#include "text/tts_script.h"

namespace kyutai {
namespace {

const SentencePiece& tokenizer() {
  static SentencePiece sp = [] {
    auto bytes = test::read_file(test::data_path("tts/tokenizer.model"));
    return SentencePiece::load(bytes.data(), bytes.size());
  }();
  return sp;
}

const Json& cases() { return test::vectors("tts").at("cases"); }

std::vector<std::string> strings(const Json& list) {
  std::vector<std::string> out;
  for (const Json& s : list.as_array()) out.push_back(s.as_string());
  return out;
}

std::vector<int> ints(const Json& list) {
  std::vector<int> out;
  for (const Json& v : list.as_array()) out.push_back(int(v.as_number()));
  return out;
}

void expect_entries(const std::vector<TtsEntry>& got, const Json& expected) {
  const auto& want = expected.as_array();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("entry " + std::to_string(i));
    EXPECT_EQ(got[i].tokens, ints(want[i].at("tokens")));
    EXPECT_EQ(got[i].text, want[i].at("text").as_string());
    EXPECT_EQ(got[i].padding, int(want[i].at("padding").as_number()));
  }
}

TEST(TtsScript, TokenizerMatchesKyutaisSentencePiece) {
  for (const auto& [word, ids] : test::vectors("tts").at("tokenizer_check").as_object())
    EXPECT_EQ(tokenizer().encode(word), ints(ids)) << word;
}

TEST(TtsScript, EntriesOfTurnsBreaksAndWordsMatchKyutai) {
  const Json& sm = cases().at("state_machine");
  std::vector<std::string> script = strings(sm.at("script"));
  expect_entries(script_to_entries(tokenizer(), script), sm.at("entries"));
  TtsScriptOptions no_padding;
  no_padding.padding_between = 0;
  expect_entries(script_to_entries(tokenizer(), script, no_padding), sm.at("entries_padding_between_0"));
  for (const char* gen : {"generation", "generation_real_cfg"})
    expect_entries(script_to_entries(tokenizer(), strings(cases().at(gen).at("script"))),
                   cases().at(gen).at("entries"));
}

TEST(TtsScript, CleanUpSpeakerTokensAndBreakRounding) {
  TtsScriptOptions o;
  auto entries = script_to_entries(tokenizer(), {"(a):b\xE2\x80\x99s <break time=\"0.2s\"/>", "", "c"}, o);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].text, "a");
  EXPECT_EQ(entries[0].tokens.front(), 1);  // main speaker's first word
  EXPECT_EQ(entries[1].text, "b's");
  EXPECT_EQ(entries[2].tokens.size(), 0u);
  EXPECT_EQ(entries[2].padding, 2);  // round(0.2 * 12.5) = round(2.5) = 2: halves go to even, as Python
  EXPECT_EQ(entries[3].text, "c");
  EXPECT_EQ(entries[3].tokens, tokenizer().encode("c"));  // main again, but the last speaker was main: no token
  o.multi_speaker = false;
  EXPECT_EQ(script_to_entries(tokenizer(), {"a"}, o)[0].tokens, tokenizer().encode("a"));
  EXPECT_THROW(script_to_entries(tokenizer(), {"<break time=\"1x5s\"/>"}, o), Error);
}

// The pieces of one turn: words, and "<pause seconds>" for breaks.
std::vector<std::string> pieces(const std::string& turn) {
  std::vector<std::string> out;
  for (const TtsScriptPiece& p : split_script_turn(turn))
    out.push_back(p.word.empty() ? "<pause " + std::to_string(p.pause_seconds) + ">" : p.word);
  return out;
}

using Pieces = std::vector<std::string>;

// Expected values from Kyutai's event regex and float() run in Python 3.11.
TEST(TtsScript, SplitsOnUnicodeWhitespaceAsPython) {
  // NBSP, ideographic space, line separator, unit separator, next line: all Python whitespace.
  EXPECT_EQ(pieces("a\xC2\xA0"
                   "b\xE3\x80\x80"
                   "c\xE2\x80\xA8"
                   "d\x1F"
                   "e\xC2\x85"
                   "f"),
            (Pieces{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(pieces("one\xE2\x80\x8Btwo"), (Pieces{"one\xE2\x80\x8Btwo"}));  // zero-width space is not
  EXPECT_EQ(pieces("x<break\xC2\xA0time=\"1_5s\"/>y"), (Pieces{"x", "<pause 15.000000>", "y"}));
  EXPECT_EQ(pieces("<break\ntime=\"1s\"/>"), (Pieces{"<pause 1.000000>"}));
}

TEST(TtsScript, BreakDurationsReadAsPythonsFloat) {
  EXPECT_EQ(pieces("<break time=\"2 s\" />"), (Pieces{"<pause 2.000000>"}));  // float() strips whitespace
  EXPECT_EQ(pieces("<break time=\"2\xC2\xA0s\">"), (Pieces{"<pause 2.000000>"}));
  EXPECT_EQ(pieces("<break time=\"1e1s\"/>"), (Pieces{"<pause 10.000000>"}));
  EXPECT_EQ(pieces("<break time=\"1.s\"/>"), (Pieces{"<pause 1.000000>"}));
  EXPECT_EQ(pieces("<break time=\"12s\"  >z"), (Pieces{"<pause 12.000000>", "z"}));
  // Not tags: words, as Kyutai's split leaves them.
  EXPECT_EQ(pieces("<break time=\"3\"/>"), (Pieces{"<break", "time=\"3\"/>"}));
  EXPECT_EQ(pieces("a<break time=\"1.5s\"/ >b"), (Pieces{"a<break", "time=\"1.5s\"/", ">b"}));
  EXPECT_EQ(pieces("<break time=\"1\n5s\"/>"), (Pieces{"<break", "time=\"1", "5s\"/>"}));
  // Tags whose duration float() refuses (strtod would read "0x5" as hex), or over an hour.
  for (const char* bad : {"<break time=\"0x5s\"/>", "<break time=\"1s5s\"/>", "<break time=\"1ss\"/>",
                          "<break time=\"1_s\"/>", "<break time=\"3601s\"/>", "<break time=\"1e9s\"/>"}) {
    try {
      split_script_turn(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << bad;
    }
  }
  TtsScriptOptions o;
  auto entries = script_to_entries(tokenizer(), {"<break time=\"1_5s\"/>"}, o);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].padding, 188);  // round(187.5): to even
}

void expect_trace(const Json& trace, int second_stream_ahead) {
  const Json& sm = cases().at("state_machine");
  TtsMachineConfig mc;
  mc.ids.card = 101;
  mc.second_stream_ahead = second_stream_ahead;
  TtsStateMachine machine(mc);
  TtsMachineState state = machine.new_state(script_to_entries(tokenizer(), strings(sm.at("script"))));
  for (const Json& s : trace.at("steps").as_array()) {
    const int step = int(s.at("step").as_number());
    SCOPED_TRACE("step " + std::to_string(step));
    bool consumed = false;
    int output = machine.process(step, state, int(s.at("model_token").as_number()), &consumed);
    ASSERT_EQ(output, int(s.at("output").as_number()));
    EXPECT_EQ(consumed, s.at("consumed_new_word").as_bool());
    EXPECT_EQ(std::vector<int>(state.queued.begin(), state.queued.end()), ints(s.at("queued")));
    EXPECT_EQ(std::vector<int>(state.lookahead_queued.begin(), state.lookahead_queued.end()),
              ints(s.at("lookahead_queued")));
    EXPECT_EQ(state.remaining_padding, int(s.at("remaining_padding").as_number()));
    EXPECT_EQ(state.forced_padding, int(s.at("forced_padding").as_number()));
    EXPECT_EQ(int(state.entries.size()), int(s.at("entries_left").as_number()));
    if (s.at("end_step").is_null()) EXPECT_FALSE(state.end_step);
    else EXPECT_EQ(state.end_step.value_or(-1), int(s.at("end_step").as_number()));
  }
  EXPECT_EQ(state.end_step.value_or(-1), int(trace.at("end_step").as_number()));
  EXPECT_EQ(state.consumption_times, ints(trace.at("consumption_times")));
  const auto& transcript = trace.at("transcript").as_array();
  ASSERT_EQ(state.transcript.size(), transcript.size());
  for (size_t i = 0; i < transcript.size(); ++i) {
    EXPECT_EQ(state.transcript[i].first, transcript[i].as_array()[0].as_string());
    EXPECT_EQ(state.transcript[i].second, int(transcript[i].as_array()[1].as_number()));
  }
}

TEST(TtsStateMachine, TraceWithSecondStreamMatchesKyutai) { expect_trace(cases().at("state_machine").at("trace"), 2); }

TEST(TtsStateMachine, TraceWithoutSecondStreamMatchesKyutai) {
  expect_trace(cases().at("state_machine").at("trace_second_stream_ahead_0"), 0);
}

TEST(TtsStateMachine, RefusesBadSettings) {
  TtsMachineConfig mc;
  EXPECT_THROW(TtsStateMachine{mc}, Error);  // card 0
  mc.ids.card = 101;
  mc.max_padding = -1;
  EXPECT_THROW(TtsStateMachine{mc}, Error);
}

}  // namespace
}  // namespace kyutai
