// Optional native operator behind a PackedMatrix: XNNPACK's fully-connected operator in
// native builds (the project's own kernels stay the WebAssembly path).
#pragma once

#include <memory>

namespace kyutai {

class NativeLinear {
 public:
  virtual ~NativeLinear() = default;
  // y[rows, out] = x[rows, in] W^T
  virtual void run(const float* x, int rows, float* y) const = 0;
};

bool xnnpack_available();
// W is [out, in] row-major float32. Returns nullptr when XNNPACK is not compiled in.
std::shared_ptr<NativeLinear> make_xnnpack_f32(int out, int in, const float* w, int threads);

// XNNPACK's int8 fully-connected operator (per-tensor scales, int8 activations), kept as a
// benchmark reference; not used by the model because its static requantisation loses accuracy.
class XnnQs8Gemv {
 public:
  virtual ~XnnQs8Gemv() = default;
  virtual void run(const int8_t* x, int8_t* y) = 0;
};
std::unique_ptr<XnnQs8Gemv> make_xnnpack_qs8(int out, int in, const int8_t* w);

}  // namespace kyutai
