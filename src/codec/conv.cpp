#include "codec/conv.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "nn/weight_loader.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#define KYUTAI_CONV_SIMD simd128
#else
#define KYUTAI_CONV_SIMD scalar
#endif

namespace kyutai {

void ConvShape::validate(const std::string& what) const {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || dilation <= 0 || groups <= 0)
    fail(ErrorCode::InvalidConfig, what, ": convolution sizes must be positive (in ", in_channels, ", out ",
         out_channels, ", kernel ", kernel, ", stride ", stride, ", dilation ", dilation, ", groups ", groups, ")");
  if (in_channels % groups != 0 || out_channels % groups != 0)
    fail(ErrorCode::InvalidConfig, what, ": groups ", groups, " must divide in (", in_channels, ") and out (",
         out_channels, ") channels");
}

// --- kernels -----------------------------------------------------------------------------
//
// Every output is computed the same way in both variants: acc = 0, then acc += w * x over
// taps and input channels in order, then acc + bias (convolution) or y + acc (transposed).
// Both walk blocks of up to kRowBlock rows x one panel: the scalar loops over lanes (which
// compilers vectorise natively), the SIMD one holds the block in registers.
int conv_panels_per_group(const ConvShape& s) { return (s.out_per_group() + kConvPanel - 1) / kConvPanel; }

int conv_panels(const ConvShape& s) { return s.groups * conv_panels_per_group(s); }

namespace {

constexpr int kRowBlock = 4;

// Where panel p's outputs and weights are.
struct Panel {
  int group;       // its outputs read this group's input channels
  int first_out;   // output channel of lane 0
  int width;       // valid lanes (kConvPanel but for a group's last panel)
  const float* w;  // [kernel][in_per_group][kConvPanel]
};

Panel panel_at(const ConvShape& s, const float* packed, int p) {
  const int per_group = conv_panels_per_group(s), q = p % per_group;
  Panel panel;
  panel.group = p / per_group;
  panel.first_out = panel.group * s.out_per_group() + q * kConvPanel;
  panel.width = std::min(kConvPanel, s.out_per_group() - q * kConvPanel);
  panel.w = packed + size_t(p) * s.kernel * s.in_per_group() * kConvPanel;
  return panel;
}

// Calls tile(std::integral_constant<int, n>) for a runtime row count n of 1..kRowBlock, so
// that tiles see their row count at compile time (and keep their sums in registers).
template <class Tile>
void with_rows(int rows, const Tile& tile) {
  static_assert(kRowBlock == 4, "one case per row count");
  switch (rows) {
    case 4: tile(std::integral_constant<int, 4>()); break;
    case 3: tile(std::integral_constant<int, 3>()); break;
    case 2: tile(std::integral_constant<int, 2>()); break;
    default: tile(std::integral_constant<int, 1>()); break;
  }
}

// The walk both kernel variants share: panels [panel_begin, panel_end), then `taps` kernel
// taps (1 for a convolution, whose tile covers every tap; the kernel size for a transposed
// one, which scatters tap by tap), then blocks of up to kRowBlock rows; calls
// tile(std::integral_constant<int, n>, x_group, panel, tap, first_row).
template <class Tile>
void for_tiles(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin, int panel_end,
               int taps, const Tile& tile) {
  for (int p = panel_begin; p < panel_end; ++p) {
    const Panel panel = panel_at(s, packed_w, p);
    const float* x_group = x + size_t(panel.group) * s.in_per_group();
    for (int k = 0; k < taps; ++k)
      for (int t0 = 0; t0 < rows; t0 += kRowBlock)
        with_rows(std::min(kRowBlock, rows - t0), [&](auto n) { tile(n, x_group, panel, k, t0); });
  }
}

// Packs w(o, k, c) given by `weight_at` into panels.
template <class WeightAt>
std::vector<float> pack_panels(const ConvShape& s, const WeightAt& weight_at) {
  const int K = s.kernel, I = s.in_per_group();
  std::vector<float> packed(size_t(conv_panels(s)) * K * I * kConvPanel, 0.0f);
  for (int p = 0; p < conv_panels(s); ++p) {
    const Panel panel = panel_at(s, packed.data(), p);
    float* dst = packed.data() + size_t(p) * K * I * kConvPanel;
    for (int k = 0; k < K; ++k)
      for (int c = 0; c < I; ++c)
        for (int l = 0; l < panel.width; ++l)
          dst[(size_t(k) * I + c) * kConvPanel + l] = weight_at(panel.first_out + l, k, c);
  }
  return packed;
}

}  // namespace

std::vector<float> conv1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s) {
  const int K = s.kernel, I = s.in_per_group();
  return pack_panels(s, [&](int o, int k, int c) { return torch_weight[(size_t(o) * I + c) * K + k]; });
}

std::vector<float> conv_transpose1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s) {
  const int K = s.kernel, I = s.in_per_group(), OG = s.out_per_group();
  return pack_panels(s, [&](int o, int k, int c) {
    const int g = o / OG, og = o % OG;
    return torch_weight[((size_t(g) * I + c) * OG + og) * K + k];
  });
}

namespace scalar {
namespace {

// GCC would vectorise the input-channel loop (keeping each sum's order with a shuffle per
// product); without loop vectorisation its SLP pass turns the lane loop into vector code.
#if defined(__GNUC__) && !defined(__clang__)
#define KYUTAI_LANE_VECTORS __attribute__((optimize("no-tree-loop-vectorize")))
#else
#define KYUTAI_LANE_VECTORS
#endif

template <int ROWS>
KYUTAI_LANE_VECTORS void conv1d_tile(const float* x_group, const Panel& panel, const float* bias, const ConvShape& s,
                                     int t0, float* y) {
  const int C = s.in_channels, O = s.out_channels, ipg = s.in_per_group();
  float acc[ROWS][kConvPanel] = {};
  const float* w = panel.w;
  for (int k = 0; k < s.kernel; ++k)
    for (int c = 0; c < ipg; ++c, w += kConvPanel)
      for (int r = 0; r < ROWS; ++r) {
        const float xv = x_group[(size_t(t0 + r) * s.stride + size_t(k) * s.dilation) * C + c];
        for (int l = 0; l < kConvPanel; ++l) acc[r][l] += w[l] * xv;
      }
  for (int r = 0; r < ROWS; ++r) {
    float* yr = y + size_t(t0 + r) * O + panel.first_out;
    for (int l = 0; l < panel.width; ++l) yr[l] = bias ? acc[r][l] + bias[panel.first_out + l] : acc[r][l];
  }
}

template <int ROWS>
KYUTAI_LANE_VECTORS void conv_transpose1d_tile(const float* x_group, const Panel& panel, const ConvShape& s, int k,
                                               int t0, float* y) {
  const int C = s.in_channels, O = s.out_channels, ipg = s.in_per_group();
  float acc[ROWS][kConvPanel] = {};
  const float* w = panel.w + size_t(k) * ipg * kConvPanel;
  for (int c = 0; c < ipg; ++c, w += kConvPanel)
    for (int r = 0; r < ROWS; ++r) {
      const float xv = x_group[size_t(t0 + r) * C + c];
      for (int l = 0; l < kConvPanel; ++l) acc[r][l] += w[l] * xv;
    }
  for (int r = 0; r < ROWS; ++r) {
    float* yr = y + (size_t(t0 + r) * s.stride + k) * O + panel.first_out;
    for (int l = 0; l < panel.width; ++l) yr[l] += acc[r][l];
  }
}

}  // namespace

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  for_tiles(x, packed_w, s, rows, panel_begin, panel_end, 1,
            [&](auto n, const float* xg, const Panel& panel, int, int t0) {
              conv1d_tile<decltype(n)::value>(xg, panel, bias, s, t0, y);
            });
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y) {
  for_tiles(x, packed_w, s, rows, panel_begin, panel_end, s.kernel,
            [&](auto n, const float* xg, const Panel& panel, int k, int t0) {
              conv_transpose1d_tile<decltype(n)::value>(xg, panel, s, k, t0, y);
            });
}

}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
namespace {

static_assert(kConvPanel == 8, "the SIMD tiles hold a panel in two vectors");

// acc[r][0..1] += the panel's weights at (k, c) times x rows[r][offset], for ROWS rows.
template <int ROWS>
inline void accumulate(const float* w, const float* const* xr, size_t offset, v128_t (*acc)[2]) {
  const v128_t w0 = wasm_v128_load(w), w1 = wasm_v128_load(w + 4);
  for (int r = 0; r < ROWS; ++r) {
    const v128_t xv = wasm_v128_load32_splat(xr[r] + offset);
    acc[r][0] = wasm_f32x4_add(acc[r][0], wasm_f32x4_mul(w0, xv));
    acc[r][1] = wasm_f32x4_add(acc[r][1], wasm_f32x4_mul(w1, xv));
  }
}

template <int ROWS>
void conv1d_tile(const float* x_group, const Panel& panel, const float* bias, const ConvShape& s, int t0, float* y) {
  const int C = s.in_channels, O = s.out_channels, ipg = s.in_per_group();
  const float* xr[ROWS];
  for (int r = 0; r < ROWS; ++r) xr[r] = x_group + size_t(t0 + r) * s.stride * C;
  v128_t acc[ROWS][2];
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
  const float* w = panel.w;
  for (int k = 0; k < s.kernel; ++k) {
    const size_t tap = size_t(k) * s.dilation * C;
    for (int c = 0; c < ipg; ++c, w += kConvPanel) accumulate<ROWS>(w, xr, tap + c, acc);
  }
  for (int r = 0; r < ROWS; ++r) {
    float* yr = y + size_t(t0 + r) * O + panel.first_out;
    if (panel.width == kConvPanel) {
      for (int v = 0; v < 2; ++v)
        wasm_v128_store(yr + 4 * v,
                        bias ? wasm_f32x4_add(acc[r][v], wasm_v128_load(bias + panel.first_out + 4 * v)) : acc[r][v]);
    } else {
      float lanes[kConvPanel];
      wasm_v128_store(lanes, acc[r][0]);
      wasm_v128_store(lanes + 4, acc[r][1]);
      for (int l = 0; l < panel.width; ++l) yr[l] = bias ? lanes[l] + bias[panel.first_out + l] : lanes[l];
    }
  }
}

template <int ROWS>
void conv_transpose1d_tile(const float* x_group, const Panel& panel, const ConvShape& s, int k, int t0, float* y) {
  const int C = s.in_channels, O = s.out_channels, ipg = s.in_per_group();
  const float* xr[ROWS];
  for (int r = 0; r < ROWS; ++r) xr[r] = x_group + size_t(t0 + r) * C;
  v128_t acc[ROWS][2];
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
  const float* w = panel.w + size_t(k) * ipg * kConvPanel;
  for (int c = 0; c < ipg; ++c, w += kConvPanel) accumulate<ROWS>(w, xr, c, acc);
  for (int r = 0; r < ROWS; ++r) {
    float* yr = y + (size_t(t0 + r) * s.stride + k) * O + panel.first_out;
    if (panel.width == kConvPanel) {
      for (int v = 0; v < 2; ++v) wasm_v128_store(yr + 4 * v, wasm_f32x4_add(wasm_v128_load(yr + 4 * v), acc[r][v]));
    } else {
      float lanes[kConvPanel];
      wasm_v128_store(lanes, acc[r][0]);
      wasm_v128_store(lanes + 4, acc[r][1]);
      for (int l = 0; l < panel.width; ++l) yr[l] += lanes[l];
    }
  }
}

}  // namespace

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  for_tiles(x, packed_w, s, rows, panel_begin, panel_end, 1,
            [&](auto n, const float* xg, const Panel& panel, int, int t0) {
              conv1d_tile<decltype(n)::value>(xg, panel, bias, s, t0, y);
            });
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y) {
  for_tiles(x, packed_w, s, rows, panel_begin, panel_end, s.kernel,
            [&](auto n, const float* xg, const Panel& panel, int k, int t0) {
              conv_transpose1d_tile<decltype(n)::value>(xg, panel, s, k, t0, y);
            });
}

}  // namespace simd128
#endif

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  KYUTAI_CONV_SIMD::conv1d_rows(x, packed_w, bias, s, rows, panel_begin, panel_end, y);
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const ConvShape& s, int rows, int panel_begin,
                           int panel_end, float* y) {
  KYUTAI_CONV_SIMD::conv_transpose1d_rows(x, packed_w, s, rows, panel_begin, panel_end, y);
}

// --- layers ------------------------------------------------------------------------------
namespace {

// Splits the panels across the pool when the work is worth a wake-up.
template <class Fn>
void for_panels(int panels, double macs, ThreadPool* pool, const Fn& fn) {
  constexpr double kMinParallelMacs = 1 << 16;
  if (!pool || pool->threads() <= 1 || macs < kMinParallelMacs) {
    fn(0, panels);
    return;
  }
  pool->parallel_for(panels, fn);
}

}  // namespace

void Conv1dState::reset() {
  std::fill(previous.begin(), previous.end(), 0.0f);
  first = true;
}

Conv1d::Conv1d(ConvShape shape, bool bias, PadMode pad, std::string what)
    : shape_(shape), pad_(pad), has_bias_(bias), what_(std::move(what)) {
  shape_.validate(what_);
  if (context() < 0)
    fail(ErrorCode::InvalidConfig, what_, ": stride ", shape_.stride, " exceeds the effective kernel ",
         shape_.effective_kernel(), " (Kyutai's StreamingConv1d needs kernel - stride >= 0)");
}

void Conv1d::declare_weights(WeightLoader& loader, const std::string& name) {
  loader.vector(name + ".weight", {shape_.out_channels, shape_.in_per_group(), shape_.kernel}, &loaded_);
  if (has_bias_) loader.vector(name + ".bias", {shape_.out_channels}, &bias_);
}

void Conv1d::set_weights(std::vector<float> torch_weight, std::vector<float> bias) {
  if (torch_weight.size() != size_t(shape_.out_channels) * shape_.in_per_group() * shape_.kernel ||
      bias.size() != (has_bias_ ? size_t(shape_.out_channels) : 0))
    fail(ErrorCode::InvalidArgument, what_, ": weight or bias has the wrong number of values");
  loaded_ = std::move(torch_weight);
  bias_ = std::move(bias);
  prepare();
}

void Conv1d::prepare() {
  if (loaded_.empty()) return;  // already prepared
  weight_ = conv1d_pack_weight(loaded_, shape_);
  loaded_ = std::vector<float>();
}

Conv1dState Conv1d::new_state() const {
  Conv1dState st;
  st.previous.assign(size_t(context()) * shape_.in_channels, 0.0f);
  return st;
}

int Conv1d::output_rows(int rows) const {
  if (rows <= 0 || rows % shape_.stride != 0)
    fail(ErrorCode::InvalidArgument, what_, ": a step needs a positive multiple of the stride ", shape_.stride,
         " input steps, got ", rows);
  return rows / shape_.stride;
}

void Conv1d::forward(const float* x, int rows, Conv1dState& st, float* y, ThreadPool* pool) const {
  if (weight_.empty()) fail(ErrorCode::InvalidState, what_, ": weights not loaded");
  const int out_rows = output_rows(rows);
  const int ctx = context(), C = shape_.in_channels;
  const float* input = x;
  if (ctx > 0) {
    if (st.previous.size() != size_t(ctx) * C) fail(ErrorCode::InvalidState, what_, ": state of another layer");
    if (pad_ == PadMode::Replicate && st.first)
      for (int r = 0; r < ctx; ++r) std::memcpy(st.previous.data() + size_t(r) * C, x, C * sizeof(float));
    st.padded.resize(size_t(ctx + rows) * C);
    std::copy(st.previous.begin(), st.previous.end(), st.padded.begin());
    std::memcpy(st.padded.data() + size_t(ctx) * C, x, size_t(rows) * C * sizeof(float));
    input = st.padded.data();
  }
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  const double macs = double(out_rows) * shape_.out_channels * shape_.kernel * shape_.in_per_group();
  for_panels(conv_panels(shape_), macs, pool,
             [&](int pb, int pe) { conv1d_rows(input, weight_.data(), bias, shape_, out_rows, pb, pe, y); });
  if (ctx > 0) {
    std::copy(st.padded.end() - size_t(ctx) * C, st.padded.end(), st.previous.begin());
    st.first = false;
  }
}

std::vector<float> Conv1d::forward(const float* x, int rows, ThreadPool* pool) const {
  std::vector<float> y(size_t(output_rows(rows)) * shape_.out_channels);
  Conv1dState st = new_state();
  forward(x, rows, st, y.data(), pool);
  return y;
}

void ConvTranspose1dState::reset() { std::fill(partial.begin(), partial.end(), 0.0f); }

ConvTranspose1d::ConvTranspose1d(ConvShape shape, bool bias, std::string what)
    : shape_(shape), has_bias_(bias), what_(std::move(what)) {
  shape_.validate(what_);
  if (shape_.dilation != 1) fail(ErrorCode::InvalidConfig, what_, ": transposed convolutions take no dilation");
  if (overlap() < 0)
    fail(ErrorCode::InvalidConfig, what_, ": stride ", shape_.stride, " exceeds the kernel ", shape_.kernel);
}

void ConvTranspose1d::declare_weights(WeightLoader& loader, const std::string& name) {
  loader.vector(name + ".weight", {shape_.in_channels, shape_.out_per_group(), shape_.kernel}, &loaded_);
  if (has_bias_) loader.vector(name + ".bias", {shape_.out_channels}, &bias_);
}

void ConvTranspose1d::set_weights(std::vector<float> torch_weight, std::vector<float> bias) {
  if (torch_weight.size() != size_t(shape_.in_channels) * shape_.out_per_group() * shape_.kernel ||
      bias.size() != (has_bias_ ? size_t(shape_.out_channels) : 0))
    fail(ErrorCode::InvalidArgument, what_, ": weight or bias has the wrong number of values");
  loaded_ = std::move(torch_weight);
  bias_ = std::move(bias);
  prepare();
}

void ConvTranspose1d::prepare() {
  if (loaded_.empty()) return;
  weight_ = conv_transpose1d_pack_weight(loaded_, shape_);
  loaded_ = std::vector<float>();
}

ConvTranspose1dState ConvTranspose1d::new_state() const {
  ConvTranspose1dState st;
  st.partial.assign(size_t(overlap()) * shape_.out_channels, 0.0f);
  return st;
}

void ConvTranspose1d::forward(const float* x, int rows, ConvTranspose1dState& st, float* y, ThreadPool* pool) const {
  if (weight_.empty()) fail(ErrorCode::InvalidState, what_, ": weights not loaded");
  if (rows <= 0) fail(ErrorCode::InvalidArgument, what_, ": a step needs at least one input step");
  const int O = shape_.out_channels, overlap_rows = overlap();
  if (st.partial.size() != size_t(overlap_rows) * O) fail(ErrorCode::InvalidState, what_, ": state of another layer");
  const int out_rows = rows * shape_.stride;
  // The whole transposed convolution: out_rows + overlap rows, every row starting at the bias.
  st.full.resize(size_t(out_rows + overlap_rows) * O);
  for (int r = 0; r < out_rows + overlap_rows; ++r) {
    float* row = st.full.data() + size_t(r) * O;
    if (bias_.empty()) std::fill(row, row + O, 0.0f);
    else std::copy(bias_.begin(), bias_.end(), row);
  }
  const double macs = double(rows) * O * shape_.kernel * shape_.in_per_group();
  for_panels(conv_panels(shape_), macs, pool,
             [&](int pb, int pe) { conv_transpose1d_rows(x, weight_.data(), shape_, rows, pb, pe, st.full.data()); });
  // The previous step's tail overlaps our first rows; our own tail is owed to the next step
  // (without bias, which the next step adds itself).
  for (size_t i = 0; i < st.partial.size(); ++i) st.full[i] += st.partial[i];
  std::memcpy(y, st.full.data(), size_t(out_rows) * O * sizeof(float));
  for (int r = 0; r < overlap_rows; ++r)
    for (int o = 0; o < O; ++o)
      st.partial[size_t(r) * O + o] = st.full[size_t(out_rows + r) * O + o] - (bias_.empty() ? 0.0f : bias_[o]);
}

std::vector<float> ConvTranspose1d::forward(const float* x, int rows, ThreadPool* pool) const {
  if (rows <= 0) fail(ErrorCode::InvalidArgument, what_, ": a step needs at least one input step");
  std::vector<float> y(size_t(rows) * shape_.stride * shape_.out_channels);
  ConvTranspose1dState st = new_state();
  forward(x, rows, st, y.data(), pool);
  return y;
}

}  // namespace kyutai
