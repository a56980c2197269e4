// Causal 1-D convolutions as Kyutai's StreamingConv1d and StreamingConvTranspose1d
// (moshi.modules.conv), over time-major signals: a signal of `rows` time steps and C
// channels is rows x C floats, one time step after the other. Each layer has a streaming
// state (the input rows of left context both kinds read); a whole-sequence call is a single step from a fresh state,
// which is exactly what Kyutai's non-streaming forward does.
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
// [k][c][lane], zero past the group's last output. A kernel holds a tile of up to 4 output
// rows x one panel (or 2 rows x two panels) in registers while it streams the panel's
// weights once, and accumulates every output in the fixed order (tap, input channel), so the
// scalar and SIMD variants give identical bits and the tiling never changes a result. x rows
// hold in_channels floats, y rows out_channels; group g's outputs read input channels
// g*in_per_group ...
constexpr int kConvPanel = 8;
int conv_panels_per_group(const ConvShape& s);
int conv_panels(const ConvShape& s);  // over all groups
// Packs PyTorch Conv1d weights [out][in_per_group][kernel].
std::vector<float> conv1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s);

// A transposed convolution (PyTorch ConvTranspose1d, stride S, kernel K) computed without
// zero-stuffing: output row t*S + j (phase j) is a convolution of the input over
// taps = ceil(K / S) rows, t - taps + 1 ... t, with the weights of kernel positions
// j + (taps - 1 - k) * S for tap k (zero past K). Each phase is packed as a convolution.
int conv_transpose1d_taps(const ConvShape& s);
// Packs PyTorch ConvTranspose1d weights [in][out_per_group][kernel]: stride phases one after
// the other, each conv_panels(s) panels of conv_transpose1d_taps(s) taps.
std::vector<float> conv_transpose1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s);

// Convolution, output rows [0, rows), the outputs of panels [panel_begin, panel_end):
//   y[t][o] = sum_k sum_c w(o, k, c) * x[t*stride + k*dilation][g*in_per_group + c] (+ bias[o])
// bias may be null.
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
// Transposed convolution of `rows` input rows preceded by taps - 1 rows of history (x holds
// rows + taps - 1 rows), the outputs of units [unit_begin, unit_end), a unit being one panel
// of one phase (unit = phase * conv_panels(s) + panel):
//   y[t*S + j][o] = sum_k sum_c wT(o, j + (taps-1-k)*S, c) * x[t + k][g*in_per_group + c] (+ bias[o])
void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y);

namespace scalar {
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y);
}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y);
void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y);
}  // namespace simd128
#endif

// --- layers ------------------------------------------------------------------------------
// A layer's state holds its input buffer: `context` rows of history, then the rows of the
// step, which the producer writes in place through input() (no copy of the receptive field);
// after a step the last `context` rows move to the front.
enum class PadMode { Constant, Replicate };  // left padding of the first step

struct Conv1dState {
  std::vector<float> buffer;  // [context + rows][in]
  int context = 0;            // history rows at the front of the buffer
  bool first = true;          // replicate padding still has to copy the first row
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
  // Where the producer writes the next step's `rows` input rows ([rows][in]).
  float* input(Conv1dState& state, int rows) const;
  // Runs the step whose rows were written through input(state, rows): y [rows / stride][out].
  void forward_input(int rows, Conv1dState& state, float* y, ThreadPool* pool) const;
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
  std::vector<float> buffer;  // [context + rows][in]: taps - 1 input rows of history, then the step
  int context = 0;
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
  // Input rows of history a step reads: conv_transpose1d_taps - 1.
  int context() const { return conv_transpose1d_taps(shape_) - 1; }
  ConvTranspose1dState new_state() const;
  float* input(ConvTranspose1dState& state, int rows) const;
  // Runs the step written through input(state, rows): y [rows * stride][out].
  void forward_input(int rows, ConvTranspose1dState& state, float* y, ThreadPool* pool) const;
  // x [rows][in] -> y [rows * stride][out], continuing the stream held by `state`.
  void forward(const float* x, int rows, ConvTranspose1dState& state, float* y, ThreadPool* pool) const;
  std::vector<float> forward(const float* x, int rows, ThreadPool* pool) const;

 private:
  ConvShape shape_;
  bool has_bias_ = true;
  std::string what_;
  std::vector<float> loaded_;
  std::vector<float> weight_;  // packed phases (conv_transpose1d_pack_weight)
  std::vector<float> bias_;
};

}  // namespace kyutai
