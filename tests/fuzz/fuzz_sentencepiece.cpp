// Fuzzes the SentencePiece model loader (protobuf reader, piece table, charsmap) and, when
// a model loads, runs it: encode fixed sentences and the input's own bytes as text, decode
// the ids back, per-word decoding, piece lookups. kyutai::Error is the expected outcome of
// bad input (including a corrupt charsmap met while encoding); anything else is a finding.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "text/sentencepiece.h"

namespace {

using namespace kyutai;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_sentencepiece: %s\n", what);
  std::abort();
}

void exercise(const SentencePiece& sp, const std::string& text) {
  std::vector<int> ids;
  try {
    ids = sp.encode(text);
  } catch (const Error&) {
    return;  // a corrupt charsmap is only found on the path that reaches it
  }
  for (int id : ids)
    if (id < 0 || id >= sp.vocab_size()) finding("encode returned an id outside the vocabulary");
  (void)sp.decode(ids);
  // Words as a streaming recognizer would group them.
  std::vector<int> word;
  for (int id : ids) {
    if (sp.starts_word(id) && !word.empty()) {
      (void)sp.decode_word(word);
      word.clear();
    }
    word.push_back(id);
  }
  if (!word.empty()) (void)sp.decode_word(word);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<SentencePiece> sp;
  try {
    sp.emplace(SentencePiece::load(data, size));
  } catch (const Error&) {
    return 0;
  }
  const int vocab = sp->vocab_size();
  if (vocab <= 0) finding("a loaded model has no pieces");
  if (sp->unk_id() < 0 || sp->unk_id() >= vocab) finding("unk id outside the vocabulary");
  static const char* const kTexts[] = {
      "Hello world",
      "  leading   and trailing  ",
      "Le garçon mange une crème brûlée à Noël.",
      "東京の天気は晴れです。",
      "emoji 🎉🦀",
      "ＡＢＣ１２３ ﬁ ①",
      "invalid \xff\xfe bytes \xc3",
      "",
      "a",
  };
  for (const char* t : kTexts) exercise(*sp, t);
  exercise(*sp, std::string(reinterpret_cast<const char*>(data), std::min<size_t>(size, 256)));
  // Every id decodes, alone and in a random-looking sequence; out-of-range ids are errors.
  std::vector<int> all;
  for (int id = 0; id < vocab && id < 2048; ++id) {
    (void)sp->id_to_piece(id);
    (void)sp->is_control(id);
    (void)sp->is_byte(id);
    if (sp->piece_to_id(sp->id_to_piece(id)) < 0) finding("piece_to_id returned a negative id");
    all.push_back(id);
  }
  (void)sp->decode(all);
  for (int bad : {-1, vocab}) {
    try {
      (void)sp->id_to_piece(bad);
      finding("id_to_piece accepted an id outside the vocabulary");
    } catch (const Error&) {
    }
    try {
      (void)sp->decode({bad});
      finding("decode accepted an id outside the vocabulary");
    } catch (const Error&) {
    }
  }
  return 0;
}
