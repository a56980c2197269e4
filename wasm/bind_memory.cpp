// Embind: the WebAssembly heap in use (bytes malloc has handed out and not yet taken back),
// for leak checks from JavaScript (tests/node/robustness.test.mjs). Unlike the size of the
// heap's ArrayBuffer, which only grows, this returns to its baseline once everything a
// model, a session or a failed load allocated has been freed.
#include <emscripten/bind.h>
#include <malloc.h>

namespace kyutai::wasm {

namespace {

double heap_in_use() {
  struct mallinfo info = mallinfo();
  return double(info.uordblks);
}

}  // namespace

EMSCRIPTEN_BINDINGS(kyutai_memory) { emscripten::function("heapInUse", &heap_in_use); }

}  // namespace kyutai::wasm
