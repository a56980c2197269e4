#include "session/tts_state_machine.h"

#include "core/error.h"

namespace kyutai {

namespace {

int pop_front(std::deque<int>& q) {
  int v = q.front();
  q.pop_front();
  return v;
}

}  // namespace

TtsStateMachine::TtsStateMachine(TtsMachineConfig config) : config_(std::move(config)) {
  if (config_.ids.card <= 0) fail(ErrorCode::InvalidArgument, "TTS token ids: card must be text_card + 1 >= 1");
  if (config_.second_stream_ahead < 0 || config_.max_padding < 0 || config_.initial_padding < 0)
    fail(ErrorCode::InvalidArgument, "TTS state machine: second_stream_ahead (", config_.second_stream_ahead,
         "), max_padding (", config_.max_padding, ") and initial_padding (", config_.initial_padding, ") must be >= 0");
}

TtsMachineState TtsStateMachine::new_state(std::vector<TtsEntry> entries) const {
  TtsMachineState s;
  s.entries.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  s.remaining_padding = s.forced_padding = config_.initial_padding;
  return s;
}

std::vector<int> TtsStateMachine::tokens_ahead(const TtsMachineState& state, int lookahead) {
  for (const TtsEntry& e : state.entries)
    if (!e.tokens.empty() && --lookahead == 0) return e.tokens;
  return {};
}

int TtsStateMachine::decide(int step, TtsMachineState& s, int token, bool* consumed) const {
  const TtsTokenIds& ids = config_.ids;
  if (token != ids.new_word) return token;
  if (s.entries.empty()) {
    // Reading past the last entry: the end. With a second stream the first such step still
    // signals a new word (on the second stream).
    token = config_.second_stream_ahead && !s.end_step ? ids.new_word : ids.pad;
    if (!s.end_step) s.end_step = step;
    return token;
  }
  TtsEntry entry = std::move(s.entries.front());
  s.entries.pop_front();
  s.consumption_times.push_back(step);
  *consumed = true;
  if (!entry.tokens.empty()) {
    s.transcript.emplace_back(entry.text, step);
    s.queued.insert(s.queued.end(), entry.tokens.begin(), entry.tokens.end());
    if (config_.second_stream_ahead) {
      std::vector<int> ahead = tokens_ahead(s, config_.second_stream_ahead);
      s.lookahead_queued.insert(s.lookahead_queued.end(), ahead.begin(), ahead.end());
    }
    s.remaining_padding = config_.max_padding;
  } else {
    token = ids.pad;  // a break: acts as padding
  }
  s.forced_padding = entry.padding;
  return token;
}

int TtsStateMachine::process(int step, TtsMachineState& s, int token, bool* consumed_new_word) const {
  const TtsTokenIds& ids = config_.ids;
  bool consumed = false;
  if (token != ids.new_word && token != ids.pad) token = ids.pad;
  if (!s.queued.empty() || s.forced_padding > 0) token = ids.pad;
  else if (s.remaining_padding <= 0) token = ids.new_word;
  token = decide(step, s, token, &consumed);

  int output = ids.new_word;
  if (token == ids.pad) {
    if (s.remaining_padding > 0) --s.remaining_padding;
    if (s.forced_padding > 0) --s.forced_padding;
    output = s.queued.empty() ? ids.pad : pop_front(s.queued);
  }
  if (config_.second_stream_ahead) {
    int second = -1;
    if (output == ids.new_word) {
      // The new-word signal goes on the second stream; the main one moves on with the word.
      second = ids.new_word;
      output = s.queued.empty() ? ids.pad : pop_front(s.queued);
    } else if (!s.lookahead_queued.empty()) {
      second = pop_front(s.lookahead_queued);
    }
    output = (second + 1) * ids.card + output;
  }
  if (consumed_new_word) *consumed_new_word = consumed;
  return output;
}

}  // namespace kyutai
