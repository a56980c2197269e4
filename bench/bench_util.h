// Small helpers every benchmark measurement uses: clocks, medians, heap figures, the
// platform label that starts each JSON line.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kyutai::bench {

double now_ms();
// Median of the samples (0 for none).
double median(std::vector<double> samples);
size_t heap_in_use();    // bytes malloc holds for the program (mallinfo)
size_t heap_size();      // bytes of WebAssembly memory (0 natively)
const char* platform();  // "native", "wasm-simd128" or "wasm-simd128-threads"

}  // namespace kyutai::bench
