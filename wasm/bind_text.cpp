// Embind: the SentencePiece text tokenizer.
#include <memory>

#include "handles.h"

namespace kyutai::wasm {

namespace {

std::vector<int> to_ints(const val& ids) {
  std::vector<int32_t> v = read_int32(ids, "token ids");
  return std::vector<int>(v.begin(), v.end());
}

}  // namespace

val TokenizerHandle::load(uintptr_t ptr, size_t size) {
  return guarded([&] {
    model_ = std::make_shared<const SentencePiece>(SentencePiece::load(reinterpret_cast<const uint8_t*>(ptr), size));
    return val(model_->vocab_size());
  });
}
val TokenizerHandle::encode(std::string text) const {
  return guarded([&] {
    std::vector<int> ids = model().encode(text);
    return to_typed_array(std::vector<int32_t>(ids.begin(), ids.end()));
  });
}
val TokenizerHandle::decode(val ids) const {
  return guarded([&] { return val(model().decode(to_ints(ids))); });
}
val TokenizerHandle::decode_word(val ids) const {
  return guarded([&] { return val(model().decode_word(to_ints(ids))); });
}
val TokenizerHandle::id_to_piece(int id) const {
  return guarded([&] { return val(model().id_to_piece(id)); });
}
val TokenizerHandle::starts_word(int id) const {
  return guarded([&] { return val(model().starts_word(id)); });
}

EMSCRIPTEN_BINDINGS(kyutai_text) {
  emscripten::class_<TokenizerHandle>("Tokenizer")
      .constructor<>()
      .function("load", &TokenizerHandle::load)
      .function("encode", &TokenizerHandle::encode)
      .function("decode", &TokenizerHandle::decode)
      .function("decodeWord", &TokenizerHandle::decode_word)
      .function("idToPiece", &TokenizerHandle::id_to_piece)
      .function("startsWord", &TokenizerHandle::starts_word);
}

}  // namespace kyutai::wasm
