#include "text/tts_script.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "text/sentencepiece.h"

namespace kyutai {

namespace {

constexpr double kMaxBreakSeconds = 3600;

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// The code point of the UTF-8 sequence at s[at] and its length; a malformed byte stands for itself.
uint32_t code_point(const std::string& s, size_t at, size_t* length) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b = byte(at);
  const int n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (n == 1 || at + n > s.size()) {
    *length = 1;
    return b;
  }
  uint32_t cp = b & (0x7F >> n);
  for (int i = 1; i < n; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) {
      *length = 1;
      return b;
    }
    cp = (cp << 6) | (byte(at + i) & 0x3F);
  }
  *length = size_t(n);
  return cp;
}

// Python's str.isspace (Unicode 14, CPython 3.11): what \s matches in Kyutai's event regex.
bool is_python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t skip_spaces(const std::string& s, size_t at) {
  for (size_t n; (n = whitespace_length(s, at)) > 0;) at += n;
  return at;
}

size_t skip_digits(const std::string& s, size_t at) {
  while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
  return at;
}

bool has(const std::string& s, size_t at, const char* text) { return s.compare(at, std::strlen(text), text) == 0; }

// The end of `s"\s*/?>` at `at`, or npos.
size_t tag_tail(const std::string& s, size_t at) {
  if (!has(s, at, "s\"")) return std::string::npos;
  at = skip_spaces(s, at + 2);
  if (at < s.size() && s[at] == '/') ++at;
  return at < s.size() && s[at] == '>' ? at + 1 : std::string::npos;
}

// Kyutai's <break\s+time="([0-9]+(?:.[0-9]*)?)s"\s*/?> at s[at]: the tag's end (npos: no
// match) and its duration text. `.` is any character but a newline. The digit run is taken
// whole: a shorter one would leave a digit where `s"` is needed, failing the same way.
size_t match_break(const std::string& s, size_t at, std::string* duration) {
  if (!has(s, at, "<break")) return std::string::npos;
  size_t i = skip_spaces(s, at + 6);
  if (i == at + 6 || !has(s, i, "time=\"")) return std::string::npos;
  const size_t begin = i + 6, digits = skip_digits(s, begin);
  if (digits == begin) return std::string::npos;
  size_t any_length = 0;
  if (digits < s.size() && s[digits] != '\n') {  // the optional group first, as the regex tries it
    code_point(s, digits, &any_length);
    const size_t fraction = skip_digits(s, digits + any_length);
    const size_t end = tag_tail(s, fraction);
    if (end != std::string::npos) {
      *duration = s.substr(begin, fraction - begin);
      return end;
    }
  }
  *duration = s.substr(begin, digits - begin);
  return tag_tail(s, digits);
}

// Python's float() of a matched duration: digits, then maybe one character and digits.
double break_seconds(const std::string& text) {
  const size_t first = skip_digits(text, 0);
  std::string number = text.substr(0, first);  // what strtod reads: digits, '.' and 'e' only
  if (first < text.size()) {
    size_t c_length = 0;
    const uint32_t c = code_point(text, first, &c_length);
    const std::string rest = text.substr(first + c_length);  // digits
    if (c == '.') number += "." + rest;
    else if ((c == 'e' || c == 'E') && !rest.empty()) number += "e" + rest;
    else if (c == '_' && !rest.empty()) number += rest;  // an underscore between digits
    else if (!is_python_space(c) || !rest.empty())       // float() strips trailing whitespace
      fail(ErrorCode::InvalidArgument, "<break time=\"", text,
           "s\"/>: the duration must be a number of seconds, e.g. 0.5");
  }
  const double seconds = std::strtod(number.c_str(), nullptr);
  if (!(seconds <= kMaxBreakSeconds))
    fail(ErrorCode::InvalidArgument, "<break time=\"", text, "s\"/>: a pause lasts at most ", kMaxBreakSeconds,
         " seconds");
  return seconds;
}

}  // namespace

size_t whitespace_length(const std::string& text, size_t at) {
  if (at >= text.size()) return 0;
  size_t length = 0;
  return is_python_space(code_point(text, at, &length)) ? length : 0;
}

std::vector<TtsScriptPiece> split_script_turn(const std::string& turn) {
  std::string line = turn;
  replace_all(line, "\xE2\x80\x99", "'");
  replace_all(line, ":", " ");
  replace_all(line, "(", "");
  replace_all(line, ")", "");
  std::vector<TtsScriptPiece> pieces;
  size_t word = 0;  // where the current word started
  for (size_t at = 0; at < line.size();) {
    std::string duration;
    const size_t tag_end = match_break(line, at, &duration);
    const size_t space_end = skip_spaces(line, at);
    if (tag_end == std::string::npos && space_end == at) {
      size_t length = 0;
      code_point(line, at, &length);
      at += length;
      continue;
    }
    if (at > word) pieces.push_back({line.substr(word, at - word), 0});
    if (tag_end != std::string::npos) pieces.push_back({"", break_seconds(duration)});
    at = word = tag_end != std::string::npos ? tag_end : space_end;
  }
  if (word < line.size()) pieces.push_back({line.substr(word), 0});
  return pieces;
}

std::vector<TtsEntry> script_to_entries(const SentencePiece& tokenizer, const std::vector<std::string>& script,
                                        const TtsScriptOptions& o) {
  const int speaker_tokens[2] = {o.main_token, o.other_token};
  int last_speaker = o.previous_speaker;
  std::vector<TtsEntry> entries;
  for (size_t idx = 0; idx < script.size(); ++idx) {
    bool first_content = true;
    for (const TtsScriptPiece& piece : split_script_turn(script[idx])) {
      TtsEntry e;
      if (piece.word.empty()) {
        // Python's round(): halves to even, as nearbyint in the default rounding mode.
        e.padding = int(std::nearbyint(piece.pause_seconds * o.frame_rate));
        entries.push_back(std::move(e));
        continue;
      }
      e.tokens = tokenizer.encode(piece.word);
      e.text = piece.word;
      if (first_content) {
        const int speaker = int(idx % 2);
        if (o.multi_speaker && last_speaker != speaker) {
          last_speaker = speaker;
          e.tokens.insert(e.tokens.begin(), speaker_tokens[speaker]);
        }
        first_content = false;
      }
      if (o.padding_between > 0) e.padding = std::max(0, o.padding_between + int(e.tokens.size()) - 1);
      entries.push_back(std::move(e));
    }
  }
  return entries;
}

}  // namespace kyutai
