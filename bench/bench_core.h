// Benchmark kernels shared by the native CLI, the WebAssembly module run under Node and the
// browser page. Each returns one JSON object (a line of the report); timing uses the median
// of several runs so a noisy shared machine perturbs it less.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/packed_matrix.h"

namespace kyutai {
class ThreadPool;
class XnnQs8Gemv;
}  // namespace kyutai

namespace kyutai::bench {

// Single-stream-set read bandwidth over `megabytes` of memory (larger than any cache), the
// floor every weight-streaming frame is compared with. `threads` > 1 splits the buffer.
std::string read_bandwidth(int megabytes, int threads);

// y = W x with W [n, k] in `format` (a weight format, "xnnpack-f32" or "xnnpack-qs8"),
// cycling through enough copies of W to exceed 1.1 GB (cold: weights come from DRAM, as in a
// real frame) or one copy (hot). The copies are made when the object is built and timed by
// time(), so a report can place several implementations' weights first and time them after
// (where weights land in physical memory changes their read rate, see bench/run.mjs).
class GemvBench {
 public:
  GemvBench(int k, int n, const std::string& format, bool cold, int threads);
  ~GemvBench();
  std::string time();

 private:
  int k_, n_;
  std::string format_name_;
  bool cold_;
  std::string unavailable_;  // the line time() returns when nothing could be prepared
  size_t bytes_per_copy_ = 0;
  std::vector<PackedMatrix> copies_;
  std::vector<std::unique_ptr<XnnQs8Gemv>> qs8_;
  std::vector<float> x_, y_;
  std::vector<int8_t> xq_, yq_;
  std::unique_ptr<ThreadPool> pool_;
};

// GemvBench(...).time() in one call.
std::string gemv(int k, int n, const std::string& format, bool cold, int threads);

// One streaming frame of a synthetic model of a released shape ("stt-1b", or "moshi-7b-2l":
// two of Moshi 7B's 32 temporal-transformer layers plus its text head), weights generated in
// memory as bf16 and converted at load to `format`. Reports load time, ms/frame, the weight
// bytes read per frame and the heap in use.
// `format`: a weight format, "xnnpack-f32", or either with "+kv-bf16" (a bf16 KV cache).
std::string frame(const std::string& shape, const std::string& format, int threads, int frames);

// Issue 31's accuracy table for one block format ("Q8_0", "Q4_K"), weight distribution ("gauss",
// "student-t4", "outlier-channels") and shape: relative RMSE of the weights and of a GEMV with
// outlier activations, for the engine's quantizers and for ggml's reference schemes on the same
// data, beside the figures (kernels/quant_accuracy.h, which the tests assert).
std::string quant_accuracy(const std::string& format, const std::string& distribution, int out, int in);

}  // namespace kyutai::bench
