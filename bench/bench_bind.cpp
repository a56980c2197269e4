// The benchmark as an Embind module (Node and browser runs of the same measurements).
#include <emscripten/bind.h>

#include "bench_core.h"
#include "bench_mimi.h"
#include "mac_rate.h"

EMSCRIPTEN_BINDINGS(kyutai_bench) {
  emscripten::function("readBandwidth", &kyutai::bench::read_bandwidth);
  emscripten::function("gemv", &kyutai::bench::gemv);
  emscripten::class_<kyutai::bench::GemvBench>("GemvBench")
      .constructor<int, int, const std::string&, bool, int>()
      .function("time", &kyutai::bench::GemvBench::time);
  emscripten::function("frame", &kyutai::bench::frame);
  emscripten::function("mimiFrame", &kyutai::bench::mimi_frame);
  emscripten::function("mimiLayers", &kyutai::bench::mimi_layers);
  emscripten::function("macRate", &kyutai::bench::mac_rate);
}
