#include "text/tts_script.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "core/error.h"
#include "text/sentencepiece.h"

namespace kyutai {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// Kyutai's event regex: a break tag or a run of whitespace; the duration's '.' is any character
// (as in Kyutai's pattern), so float() of it can still fail.
const std::regex& event_regex() {
  static const std::regex re(R"re(<break\s+time="([0-9]+(?:.[0-9]*)?)s"\s*/?>|\s+)re");
  return re;
}

double break_seconds(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno || end != text.c_str() + text.size())
    fail(ErrorCode::InvalidArgument, "<break time=\"", text,
         "s\"/>: the duration must be a number of seconds, e.g. 0.5");
  return v;
}

}  // namespace

std::vector<TtsEntry> script_to_entries(const SentencePiece& tokenizer, const std::vector<std::string>& script,
                                        const TtsScriptOptions& o) {
  const int speaker_tokens[2] = {o.main_token, o.other_token};
  int last_speaker = o.previous_speaker;
  std::vector<TtsEntry> entries;
  for (size_t idx = 0; idx < script.size(); ++idx) {
    bool first_content = true;
    auto add_word = [&](const std::string& word) {
      TtsEntry e;
      e.tokens = tokenizer.encode(word);
      e.text = word;
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
    };
    std::string line = script[idx];
    replace_all(line, "\xE2\x80\x99", "'");
    replace_all(line, ":", " ");
    replace_all(line, "(", "");
    replace_all(line, ")", "");
    std::smatch m;
    while (!line.empty() && std::regex_search(line, m, event_regex())) {
      std::string word = line.substr(0, size_t(m.position(0)));
      std::string duration = m[1].matched ? m[1].str() : "";
      line = line.substr(size_t(m.position(0) + m.length(0)));
      if (!word.empty()) add_word(word);
      if (!duration.empty()) {
        // Python's round(): halves to even, as nearbyint in the default rounding mode.
        TtsEntry pause;
        pause.padding = int(std::nearbyint(break_seconds(duration) * o.frame_rate));
        entries.push_back(std::move(pause));
      }
    }
    if (!line.empty()) add_word(line);
  }
  return entries;
}

}  // namespace kyutai
