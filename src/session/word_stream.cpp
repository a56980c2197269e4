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

SessionWords::SessionWords(int delay, int32_t padding_id, int32_t end_padding_id, double frame_rate)
    : stream_(delay, padding_id, end_padding_id, frame_rate) {}

WordUpdate SessionWords::pair(std::vector<WordEvent> events) {
  WordUpdate out;
  int unended_here = -1;  // index in out.words of the unended word, when this step gave it
  for (WordEvent& e : events) {
    if (e.kind == WordEvent::Kind::Word) {
      out.words.push_back({std::move(e.tokens), e.time, std::nullopt});
      unended_ = out.words.back();
      unended_here = int(out.words.size()) - 1;
    } else if (unended_) {
      if (unended_here >= 0) {
        out.words[size_t(unended_here)].end = e.time;
      } else {
        out.ended = std::move(*unended_);
        out.ended->end = e.time;
      }
      unended_.reset();
      unended_here = -1;
    }
  }
  return out;
}

WordUpdate SessionWords::push(int32_t token) {
  std::vector<WordEvent> events;
  stream_.push(token, &events);
  return pair(std::move(events));
}

std::vector<Word> SessionWords::flush() {
  std::vector<WordEvent> events;
  stream_.flush(&events);
  return pair(std::move(events)).words;
}

void SessionWords::reset() {
  stream_.reset();
  unended_.reset();
}

}  // namespace kyutai
