#include "kernels/native_linear.h"

#include <cmath>
#include <cstdint>
#include <mutex>

#include "core/error.h"

#ifdef KYUTAI_WITH_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

namespace kyutai {

#ifdef KYUTAI_WITH_XNNPACK

namespace {

void ensure_xnnpack() {
  static std::once_flag once;
  static xnn_status status = xnn_status_success;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  if (status != xnn_status_success) fail(ErrorCode::Internal, "xnn_initialize failed: ", int(status));
}

class XnnF32 : public NativeLinear {
 public:
  XnnF32(int out, int in, const float* w, int threads) : out_(out), in_(in) {
    ensure_xnnpack();
    if (xnn_create_fully_connected_nc_f32(in, out, in, out, w, nullptr, -INFINITY, INFINITY, 0, &op_) !=
        xnn_status_success)
      fail(ErrorCode::Internal, "xnn_create_fully_connected_nc_f32 failed for [", out, ", ", in, "]");
    // One pthreadpool per operator would mean hundreds of pools of spinning threads; the
    // native path is the reference, so products run on the calling thread.
    (void)threads;
  }
  ~XnnF32() override { xnn_delete_operator(op_); }
  void run(const float* x, int rows, float* y) const override {
    std::lock_guard<std::mutex> lock(mutex_);  // setup mutates the operator
    if (xnn_setup_fully_connected_nc_f32(op_, rows, x, y, nullptr) != xnn_status_success ||
        xnn_run_operator(op_, nullptr) != xnn_status_success)
      fail(ErrorCode::Internal, "XNNPACK fully-connected [", out_, ", ", in_, "] failed");
  }

 private:
  int out_, in_;
  xnn_operator_t op_ = nullptr;
  mutable std::mutex mutex_;
};

class XnnQs8 : public XnnQs8Gemv {
 public:
  XnnQs8(int out, int in, const int8_t* w) {
    ensure_xnnpack();
    if (xnn_create_fully_connected_nc_qs8(in, out, in, out, 0, 1.0f / 64, 1.0f / 64, w, nullptr, 0, 1.0f, -128, 127, 0,
                                          &op_) != xnn_status_success)
      fail(ErrorCode::Internal, "xnn_create_fully_connected_nc_qs8 failed");
  }
  ~XnnQs8() override { xnn_delete_operator(op_); }
  void run(const int8_t* x, int8_t* y) override {
    xnn_setup_fully_connected_nc_qs8(op_, 1, x, y, nullptr);
    xnn_run_operator(op_, nullptr);
  }

 private:
  xnn_operator_t op_ = nullptr;
};

}  // namespace

bool xnnpack_available() { return true; }

std::shared_ptr<NativeLinear> make_xnnpack_f32(int out, int in, const float* w, int threads) {
  return std::make_shared<XnnF32>(out, in, w, threads);
}

std::unique_ptr<XnnQs8Gemv> make_xnnpack_qs8(int out, int in, const int8_t* w) {
  return std::make_unique<XnnQs8>(out, in, w);
}

#else

bool xnnpack_available() { return false; }
std::shared_ptr<NativeLinear> make_xnnpack_f32(int, int, const float*, int) { return nullptr; }
std::unique_ptr<XnnQs8Gemv> make_xnnpack_qs8(int, int, const int8_t*) { return nullptr; }

#endif

}  // namespace kyutai
