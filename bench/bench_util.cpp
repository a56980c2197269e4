#include "bench_util.h"

#include <algorithm>
#include <chrono>

#if defined(__GLIBC__) || defined(__EMSCRIPTEN__)
#include <malloc.h>
#endif

namespace kyutai::bench {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

size_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().uordblks;
#elif defined(__EMSCRIPTEN__)
  return size_t(mallinfo().uordblks);
#else
  return 0;
#endif
}

size_t heap_size() {
#ifdef __EMSCRIPTEN__
  return size_t(__builtin_wasm_memory_size(0)) * 65536;
#else
  return 0;
#endif
}

const char* platform() {
#if defined(__EMSCRIPTEN_PTHREADS__)
  return "wasm-simd128-threads";
#elif defined(__wasm_simd128__)
  return "wasm-simd128";
#else
  return "native";
#endif
}

}  // namespace kyutai::bench
