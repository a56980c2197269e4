// Embind: the SentencePiece text tokenizer (its handle is in handles.h: sessions hold its model).
#include "handles.h"

namespace kyutai::wasm {

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
