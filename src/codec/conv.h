// Causal 1-D convolutions as Kyutai's StreamingConv1d and StreamingConvTranspose1d
// (moshi.modules.conv), over time-major signals: a signal of `rows` time steps and C
// channels is rows x C floats, one time step after the other. Each layer has a streaming
// state (the left context of a convolution, the overlapping tail of a transposed one); a
// whole-sequence call is a single step from a fresh state, which is exactly what Kyutai's
// non-streaming forward does.
//
// The kernels at the top know nothing about models: shapes come from the caller. They exist
// twice, `scalar` and `simd128` (WebAssembly SIMD), doing the same float operations in the
// same order for every output, so the two give identical bits.
#pragma once

#include <string>
#include <vector>

namespace kyutai {

class ThreadPool;
class WeightLoader;

struct ConvShape {
  int in_channels = 1;
  int out_channels = 1;
  int kernel = 1;
  int stride = 1;
  int dilation = 1;
  int groups = 1;

  int in_per_group() const { return in_channels / groups; }
  int out_per_group() const { return out_channels / groups; }
  int effective_kernel() const { return (kernel - 1) * dilation + 1; }
  void validate(const std::string& what) const;  // throws InvalidConfig naming `what`
};

// --- kernels -----------------------------------------------------------------------------
// Weights are packed in panels of kConvPanel output channels of one group: panel p holds,
// for each tap k and input channel c of the group, the weights of its outputs side by side,
// [k][c][lane], zero past the group's last output. A kernel streams a panel's weights once
// per block of rows and accumulates every output in the fixed order (tap, input channel), so
// the scalar and SIMD variants give identical bits. x rows hold in_channels floats, y rows
// out_channels; group g's outputs read input channels g*in_per_group ...
constexpr int kConvPanel = 8;
int conv_panels_per_group(const ConvShape& s);
int conv_panels(const ConvShape& s);  // over all groups
// Packs PyTorch Conv1d weights [out][in_per_group][kernel].
std::vector<float> conv1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s);
// Packs PyTorch ConvTranspose1d weights [in][out_per_group][kernel].
std::vector<float> conv_transpose1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s);

// Convolution, output rows [0, rows), the outputs of panels [panel_begin, panel_end):
//   y[t][o] = sum_k sum_c w(o, k, c) * x[t*stride + k*dilation][g*in_per_group + c] (+ bias[o])
// bias may be null.
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
// Transposed convolution, accumulated into y, tap after tap, for the outputs of the panels:
//   y[t*stride + k][o] += sum_c w(o, k, c) * x[t][g*in_per_group + c]   for t in [0, rows)
// y holds (rows - 1) * stride + kernel rows.
void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y);

namespace scalar {
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y);
}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y);
}  // namespace simd128
#endif

// --- layers ------------------------------------------------------------------------------
enum class PadMode { Constant, Replicate };  // left padding of the first step

struct Conv1dState {
  std::vector<float> previous;  // [context][in]: the last input rows seen
  bool first = true;            // replicate padding still has to copy the first row
  std::vector<float> padded;    // scratch: [context + rows][in]
  void reset();
};

class Conv1d {
 public:
  Conv1d() = default;
  Conv1d(ConvShape shape, bool bias, PadMode pad, std::string what);

  // Declares "<name>.weight" [out, in/groups, kernel] (and "<name>.bias" [out]).
  void declare_weights(WeightLoader& loader, const std::string& name);
  // PyTorch-layout weights given directly (tests, fixed kernels).
  void set_weights(std::vector<float> torch_weight, std::vector<float> bias);
  // Moves the loaded weights into the kernels' layout; once, after loading.
  void prepare();

  const ConvShape& shape() const { return shape_; }
  // Left context kept between steps: effective kernel - stride (Kyutai's padding_total).
  int context() const { return shape_.effective_kernel() - shape_.stride; }
  Conv1dState new_state() const;
  // Output rows of a step of `rows` inputs; throws unless rows is a positive multiple of the stride.
  int output_rows(int rows) const;
  // x [rows][in] -> y [rows / stride][out], continuing the stream held by `state`.
  void forward(const float* x, int rows, Conv1dState& state, float* y, ThreadPool* pool) const;
  // A whole sequence from a fresh state.
  std::vector<float> forward(const float* x, int rows, ThreadPool* pool) const;

 private:
  ConvShape shape_;
  PadMode pad_ = PadMode::Constant;
  bool has_bias_ = true;
  std::string what_;           // layer name for error messages
  std::vector<float> loaded_;  // PyTorch layout until prepare()
  std::vector<float> weight_;  // packed panels (conv1d_pack_weight)
  std::vector<float> bias_;    // empty without bias
};

struct ConvTranspose1dState {
  std::vector<float> partial;  // [kernel - stride][out]: overlap owed to the next step, bias removed
  std::vector<float> full;     // scratch: [rows * stride + kernel - stride][out]
  void reset();
};

class ConvTranspose1d {
 public:
  ConvTranspose1d() = default;
  ConvTranspose1d(ConvShape shape, bool bias, std::string what);

  // Declares "<name>.weight" [in, out/groups, kernel] (and "<name>.bias" [out]).
  void declare_weights(WeightLoader& loader, const std::string& name);
  void set_weights(std::vector<float> torch_weight, std::vector<float> bias);
  void prepare();

  const ConvShape& shape() const { return shape_; }
  int overlap() const { return shape_.kernel - shape_.stride; }
  ConvTranspose1dState new_state() const;
  // x [rows][in] -> y [rows * stride][out], continuing the stream held by `state`.
  void forward(const float* x, int rows, ConvTranspose1dState& state, float* y, ThreadPool* pool) const;
  std::vector<float> forward(const float* x, int rows, ThreadPool* pool) const;

 private:
  ConvShape shape_;
  bool has_bias_ = true;
  std::string what_;
  std::vector<float> loaded_;
  std::vector<float> weight_;  // packed panels (conv_transpose1d_pack_weight)
  std::vector<float> bias_;
};

}  // namespace kyutai
