#include "session/word_stream.h"

#include <algorithm>

namespace kyutai {

WordStream::WordStream(int delay, int32_t padding_id, int32_t end_padding_id, double frame_rate)
    : delay_(delay), padding_(padding_id), end_padding_(end_padding_id), frame_rate_(frame_rate) {}

void WordStream::reset() {
  step_ = 0;
  pieces_.clear();
  unended_ = false;
  last_stop_ = 0;
}

double WordStream::now() const { return double(std::max<int64_t>(0, step_ - delay_)) / frame_rate_; }

void WordStream::push(int32_t token, std::vector<WordEvent>* out) {
  ++step_;
  if (step_ < delay_) return;
  // A negative token means "no token this step" (a TTS frame with nothing forced, for the
  // package's sessions that share this stream): the step counts, nothing else changes.
  if (token < 0) return;
  if (token == padding_ || token == end_padding_) {
    if (!pieces_.empty()) {
      out->push_back({WordEvent::Kind::Word, std::move(pieces_), last_stop_});
      pieces_.clear();
      unended_ = true;
    }
  } else {
    pieces_.push_back(token);
  }
  if (token == end_padding_) {
    const double stop = double(step_ - delay_) / frame_rate_;
    if (unended_) {
      unended_ = false;
      out->push_back({WordEvent::Kind::EndWord, {}, stop});
    }
    last_stop_ = stop;
  }
}

void WordStream::flush(std::vector<WordEvent>* out) {
  const double stop = now();
  if (!pieces_.empty()) {
    out->push_back({WordEvent::Kind::Word, std::move(pieces_), last_stop_});
    pieces_.clear();
    unended_ = true;
  }
  if (unended_) {
    unended_ = false;
    out->push_back({WordEvent::Kind::EndWord, {}, stop});
  }
  last_stop_ = stop;
}

SessionWords::SessionWords(int delay, int32_t padding_id, int32_t end_padding_id, double frame_rate, WordTiming timing)
    : stream_(delay, padding_id, end_padding_id, frame_rate), timing_(timing) {}

// The unended word ends at `time` (never before its start). Given at once, it was given at
// this step (index `given_here` in out->words) or at an earlier one (then it is `ended`).
void SessionWords::end_unended(double time, int given_here, WordUpdate* out) {
  Word w = std::move(*unended_);
  unended_.reset();
  w.end = std::max(time, w.start);
  if (timing_ == WordTiming::OnceEnded) out->words.push_back(std::move(w));
  else if (given_here >= 0) out->words[size_t(given_here)].end = w.end;
  else out->ended = std::move(w);
}

WordUpdate SessionWords::pair(std::vector<WordEvent> events) {
  WordUpdate out;
  int given_here = -1;  // index in out.words of the unended word, when this step gave it at once
  for (WordEvent& e : events) {
    if (e.kind == WordEvent::Kind::Word) {
      if (timing_ == WordTiming::OnceEnded && unended_) end_unended(e.time, -1, &out);
      ++out.started;
      unended_ = Word{std::move(e.tokens), e.time, std::nullopt};
      if (timing_ == WordTiming::AtOnce) {
        out.words.push_back(*unended_);
        given_here = int(out.words.size()) - 1;
      }
    } else if (unended_) {
      end_unended(e.time, given_here, &out);
      given_here = -1;
    }
  }
  return out;
}

WordUpdate SessionWords::push(int32_t token) {
  std::vector<WordEvent> events;
  stream_.push(token, &events);
  return pair(std::move(events));
}

WordUpdate SessionWords::flush() {
  std::vector<WordEvent> events;
  stream_.flush(&events);
  return pair(std::move(events));
}

void SessionWords::reset() {
  stream_.reset();
  unended_.reset();
}

}  // namespace kyutai
