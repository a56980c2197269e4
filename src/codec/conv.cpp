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
// taps and input channels in order, then acc + bias. Both walk tiles of up to kRowBlock rows
// x one panel, or, below kRowBlock rows (the deep layers at one frame, whose weights are
// large and read once), 2 rows x two panels: two weight streams keep more reads in flight.
// The scalar variant loops over lanes (which compilers vectorise natively), the SIMD one
// holds the tile in registers (8 vectors: V8 keeps them and the weights in 16 registers).
int conv_panels_per_group(const ConvShape& s) { return (s.out_per_group() + kConvPanel - 1) / kConvPanel; }

int conv_panels(const ConvShape& s) { return s.groups * conv_panels_per_group(s); }

int conv_transpose1d_taps(const ConvShape& s) { return (s.kernel + s.stride - 1) / s.stride; }

namespace {

constexpr int kRowBlock = 4;

// How one kernel call walks a signal: output row t reads the input rows x + t*x_step +
// k*x_tap (tap k < taps, the group's channels from there on) and writes y + t*y_step.
struct Walk {
  const float* x;
  size_t x_step, x_tap;
  int taps;
  const float* w;  // the packed panels, each [taps][in_per_group][kConvPanel]
  const float* bias;
  float* y;
  size_t y_step;
};

// Where panel p's outputs and weights are.
struct Panel {
  int group;       // its outputs read this group's input channels
  int first_out;   // output channel of lane 0
  int width;       // valid lanes (kConvPanel but for a group's last panel)
  const float* w;  // [taps][in_per_group][kConvPanel]
};

Panel panel_at(const ConvShape& s, const float* packed, int taps, int p) {
  const int per_group = conv_panels_per_group(s), q = p % per_group;
  Panel panel;
  panel.group = p / per_group;
  panel.first_out = panel.group * s.out_per_group() + q * kConvPanel;
  panel.width = std::min(kConvPanel, s.out_per_group() - q * kConvPanel);
  panel.w = packed + size_t(p) * taps * s.in_per_group() * kConvPanel;
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

// The walk both kernel variants share over panels [panel_begin, panel_end): calls
// tile(rows_constant, pair_constant, panel, first_row), pair_constant true when the tile
// also covers panel + 1 (of the same group, whose inputs it shares).
template <class Tile>
void for_tiles(const ConvShape& s, const Walk& walk, int rows, int panel_begin, int panel_end, const Tile& tile) {
  const bool pairs = rows < kRowBlock && s.groups == 1;
  for (int p = panel_begin; p < panel_end;) {
    if (pairs && p + 1 < panel_end) {
      with_rows(rows, [&](auto n) { tile(n, std::true_type(), p, 0); });
      p += 2;
      continue;
    }
    for (int t0 = 0; t0 < rows; t0 += kRowBlock)
      with_rows(std::min(kRowBlock, rows - t0), [&](auto n) { tile(n, std::false_type(), p, t0); });
    ++p;
  }
}

// Packs w(o, k, c) given by `weight_at` into panels of `taps` taps.
template <class WeightAt>
void pack_panels(const ConvShape& s, int taps, const WeightAt& weight_at, float* packed) {
  const int I = s.in_per_group();
  for (int p = 0; p < conv_panels(s); ++p) {
    const Panel panel = panel_at(s, packed, taps, p);
    float* dst = packed + size_t(p) * taps * I * kConvPanel;
    for (int k = 0; k < taps; ++k)
      for (int c = 0; c < I; ++c)
        for (int l = 0; l < panel.width; ++l)
          dst[(size_t(k) * I + c) * kConvPanel + l] = weight_at(panel.first_out + l, k, c);
  }
}

size_t packed_size(const ConvShape& s, int taps) {
  return size_t(conv_panels(s)) * taps * s.in_per_group() * kConvPanel;
}

Walk conv1d_walk(const float* x, const float* packed_w, const float* bias, const ConvShape& s, float* y) {
  return Walk{x,
              size_t(s.stride) * s.in_channels,
              size_t(s.dilation) * s.in_channels,
              s.kernel,
              packed_w,
              bias,
              y,
              size_t(s.out_channels)};
}

// Calls run(walk, panel_begin, panel_end) for each stride phase that units [unit_begin,
// unit_end) touch: phase j reads the input rows like a stride-1 convolution of `taps` taps
// and writes the output rows t*S + j.
template <class Run>
void for_phases(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int unit_begin,
                int unit_end, float* y, const Run& run) {
  const int panels = conv_panels(s), taps = conv_transpose1d_taps(s);
  for (int j = unit_begin / panels; j * panels < unit_end; ++j) {
    const Walk walk{x,
                    size_t(s.in_channels),
                    size_t(s.in_channels),
                    taps,
                    packed_w + j * packed_size(s, taps),
                    bias,
                    y + size_t(j) * s.out_channels,
                    size_t(s.stride) * s.out_channels};
    run(walk, std::max(unit_begin - j * panels, 0), std::min(unit_end - j * panels, panels));
  }
}

}  // namespace

std::vector<float> conv1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s) {
  const int K = s.kernel, I = s.in_per_group();
  std::vector<float> packed(packed_size(s, K), 0.0f);
  pack_panels(
      s, K, [&](int o, int k, int c) { return torch_weight[(size_t(o) * I + c) * K + k]; }, packed.data());
  return packed;
}

std::vector<float> conv_transpose1d_pack_weight(const std::vector<float>& torch_weight, const ConvShape& s) {
  const int K = s.kernel, S = s.stride, I = s.in_per_group(), OG = s.out_per_group();
  const int taps = conv_transpose1d_taps(s);
  std::vector<float> packed(S * packed_size(s, taps), 0.0f);
  for (int j = 0; j < S; ++j)
    pack_panels(
        s, taps,
        [&](int o, int k, int c) {
          const int position = j + (taps - 1 - k) * S;  // tap k reads input row t - (taps - 1 - k)
          if (position >= K) return 0.0f;
          const int g = o / OG, og = o % OG;
          return torch_weight[((size_t(g) * I + c) * OG + og) * K + position];
        },
        packed.data() + j * packed_size(s, taps));
  return packed;
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
KYUTAI_LANE_VECTORS void tile(const Walk& wk, const ConvShape& s, const Panel& panel, int t0) {
  const int ipg = s.in_per_group();
  const float* x = wk.x + size_t(panel.group) * ipg + size_t(t0) * wk.x_step;
  float acc[ROWS][kConvPanel] = {};
  const float* w = panel.w;
  for (int k = 0; k < wk.taps; ++k)
    for (int c = 0; c < ipg; ++c, w += kConvPanel)
      for (int r = 0; r < ROWS; ++r) {
        const float xv = x[r * wk.x_step + k * wk.x_tap + c];
        for (int l = 0; l < kConvPanel; ++l) acc[r][l] += w[l] * xv;
      }
  for (int r = 0; r < ROWS; ++r) {
    float* yr = wk.y + size_t(t0 + r) * wk.y_step + panel.first_out;
    for (int l = 0; l < panel.width; ++l) yr[l] = wk.bias ? acc[r][l] + wk.bias[panel.first_out + l] : acc[r][l];
  }
}

// A pair tile is two one-panel tiles: each output's sum is the same.
void run(const ConvShape& s, const Walk& walk, int rows, int panel_begin, int panel_end) {
  for_tiles(s, walk, rows, panel_begin, panel_end, [&](auto n, auto pair, int p, int t0) {
    for (int q = 0; q < (decltype(pair)::value ? 2 : 1); ++q)
      tile<decltype(n)::value>(walk, s, panel_at(s, walk.w, walk.taps, p + q), t0);
  });
}

}  // namespace

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  run(s, conv1d_walk(x, packed_w, bias, s, y), rows, panel_begin, panel_end);
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y) {
  for_phases(x, packed_w, bias, s, unit_begin, unit_end, y,
             [&](const Walk& walk, int pb, int pe) { run(s, walk, rows, pb, pe); });
}

}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd128 {
namespace {

static_assert(kConvPanel == 8, "the SIMD tiles hold a panel in two vectors");

// Stores a tile row's sums (plus bias) into the panel's outputs of row yr.
inline void store_row(v128_t lo, v128_t hi, const Panel& panel, const float* bias, float* yr) {
  yr += panel.first_out;
  if (bias) {
    bias += panel.first_out;
    if (panel.width == kConvPanel) {
      lo = wasm_f32x4_add(lo, wasm_v128_load(bias));
      hi = wasm_f32x4_add(hi, wasm_v128_load(bias + 4));
    }
  }
  if (panel.width == kConvPanel) {
    wasm_v128_store(yr, lo);
    wasm_v128_store(yr + 4, hi);
    return;
  }
  float lanes[kConvPanel];
  wasm_v128_store(lanes, lo);
  wasm_v128_store(lanes + 4, hi);
  for (int l = 0; l < panel.width; ++l) yr[l] = bias ? lanes[l] + bias[l] : lanes[l];
}

// ROWS rows x NP panels (NP = 2: panel p + 1's weights follow panel p's).
template <int ROWS, int NP>
void tile(const Walk& wk, const ConvShape& s, int p, int t0) {
  const int ipg = s.in_per_group();
  const Panel first = panel_at(s, wk.w, wk.taps, p);
  const float* xr[ROWS];
  for (int r = 0; r < ROWS; ++r) xr[r] = wk.x + size_t(first.group) * ipg + size_t(t0 + r) * wk.x_step;
  v128_t acc[ROWS][2 * NP];
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < 2 * NP; ++v) acc[r][v] = wasm_f32x4_splat(0.0f);
  // With one group and no dilation the taps' inputs follow each other: one loop over them.
  const bool contiguous = wk.x_tap == size_t(ipg);
  const int outer = contiguous ? 1 : wk.taps, inner = contiguous ? wk.taps * ipg : ipg;
  const size_t next_panel = size_t(wk.taps) * ipg * kConvPanel;
  const float* w = first.w;
  for (int k = 0; k < outer; ++k) {
    const size_t tap = k * wk.x_tap;
    for (int c = 0; c < inner; ++c, w += kConvPanel) {
      v128_t wv[2 * NP];
      for (int q = 0; q < NP; ++q) {
        wv[2 * q] = wasm_v128_load(w + q * next_panel);
        wv[2 * q + 1] = wasm_v128_load(w + q * next_panel + 4);
      }
      for (int r = 0; r < ROWS; ++r) {
        const v128_t xv = wasm_v128_load32_splat(xr[r] + tap + c);
        for (int v = 0; v < 2 * NP; ++v) acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(wv[v], xv));
      }
    }
  }
  for (int q = 0; q < NP; ++q) {
    const Panel panel = q == 0 ? first : panel_at(s, wk.w, wk.taps, p + q);
    for (int r = 0; r < ROWS; ++r)
      store_row(acc[r][2 * q], acc[r][2 * q + 1], panel, wk.bias, wk.y + size_t(t0 + r) * wk.y_step);
  }
}

void run(const ConvShape& s, const Walk& walk, int rows, int panel_begin, int panel_end) {
  for_tiles(s, walk, rows, panel_begin, panel_end, [&](auto n, auto pair, int p, int t0) {
    tile<decltype(n)::value, decltype(pair)::value ? 2 : 1>(walk, s, p, t0);
  });
}

}  // namespace

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  run(s, conv1d_walk(x, packed_w, bias, s, y), rows, panel_begin, panel_end);
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y) {
  for_phases(x, packed_w, bias, s, unit_begin, unit_end, y,
             [&](const Walk& walk, int pb, int pe) { run(s, walk, rows, pb, pe); });
}

}  // namespace simd128
#endif

void conv1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                 int panel_begin, int panel_end, float* y) {
  KYUTAI_CONV_SIMD::conv1d_rows(x, packed_w, bias, s, rows, panel_begin, panel_end, y);
}

void conv_transpose1d_rows(const float* x, const float* packed_w, const float* bias, const ConvShape& s, int rows,
                           int unit_begin, int unit_end, float* y) {
  KYUTAI_CONV_SIMD::conv_transpose1d_rows(x, packed_w, bias, s, rows, unit_begin, unit_end, y);
}

// --- layers ------------------------------------------------------------------------------
namespace {

// Splits the units (panels, or phase panels) across the pool when the work is worth a wake-up.
template <class Fn>
void for_units(int units, double macs, ThreadPool* pool, const Fn& fn) {
  constexpr double kMinParallelMacs = 1 << 16;
  if (!pool || pool->threads() <= 1 || macs < kMinParallelMacs) {
    fn(0, units);
    return;
  }
  pool->parallel_for(units, fn);
}

// Convolutions of many rows and small weights (the SEANet's outer layers: 480 or 1920 output
// rows, 1 to 16 panels) split their rows across the pool, kRowCutUnit at a time, instead of
// their panels: each thread writes whole output rows (two threads writing halves of each row
// took 1.05-1.65x the one-thread time on the 32 -> 64 layers, cut by rows 0.73-0.76x), and a
// layer of one panel still splits. Larger weights keep the panel split: each thread then reads
// only its panels.
constexpr int kRowCutRows = 256;
constexpr size_t kRowCutMaxWeights = 32 << 10;  // floats (128 KB)
constexpr int kRowCutUnit = 32;                 // a multiple of kRowBlock

// The input buffer of a step: `context` rows of history, then room for `rows` rows.
float* input_rows(std::vector<float>& buffer, int context, int rows, int channels) {
  const size_t size = size_t(context + rows) * channels;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data() + size_t(context) * channels;
}

// After a step of `rows` rows: the last `context` rows become the next step's history.
void keep_history(std::vector<float>& buffer, int context, int rows, int channels) {
  if (context == 0) return;
  const size_t keep = size_t(context) * channels;
  std::memmove(buffer.data(), buffer.data() + size_t(rows) * channels, keep * sizeof(float));
}

void check_buffer(const std::vector<float>& buffer, int context, int state_context, int rows, int channels,
                  const std::string& what) {
  if (state_context != context) fail(ErrorCode::InvalidState, what, ": state of another layer");
  if (buffer.size() < size_t(context + rows) * channels)
    fail(ErrorCode::InvalidState, what, ": the step's ", rows, " input rows were not written through input()");
}

}  // namespace

void Conv1dState::reset() {
  std::fill(buffer.begin(), buffer.end(), 0.0f);
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
  st.context = context();
  st.buffer.assign(size_t(context()) * shape_.in_channels, 0.0f);
  return st;
}

int Conv1d::output_rows(int rows) const {
  if (rows <= 0 || rows % shape_.stride != 0)
    fail(ErrorCode::InvalidArgument, what_, ": a step needs a positive multiple of the stride ", shape_.stride,
         " input steps, got ", rows);
  return rows / shape_.stride;
}

float* Conv1d::input(Conv1dState& st, int rows) const {
  output_rows(rows);
  if (st.context != context()) fail(ErrorCode::InvalidState, what_, ": state of another layer");
  return input_rows(st.buffer, st.context, rows, shape_.in_channels);
}

void Conv1d::forward_input(int rows, Conv1dState& st, float* y, ThreadPool* pool) const {
  if (weight_.empty()) fail(ErrorCode::InvalidState, what_, ": weights not loaded");
  const int out_rows = output_rows(rows);
  const int ctx = context(), C = shape_.in_channels;
  check_buffer(st.buffer, ctx, st.context, rows, C, what_);
  if (pad_ == PadMode::Replicate && st.first)
    for (int r = 0; r < ctx; ++r)
      std::memcpy(st.buffer.data() + size_t(r) * C, st.buffer.data() + size_t(ctx) * C, C * sizeof(float));
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  const double macs = double(out_rows) * shape_.out_channels * shape_.kernel * shape_.in_per_group();
  const int panels = conv_panels(shape_);
  if (out_rows < kRowCutRows || weight_.size() > kRowCutMaxWeights) {
    for_units(panels, macs, pool, [&](int pb, int pe) {
      conv1d_rows(st.buffer.data(), weight_.data(), bias, shape_, out_rows, pb, pe, y);
    });
  } else {  // units of kRowCutUnit output rows, every panel
    const size_t x_step = size_t(shape_.stride) * C;
    for_units((out_rows + kRowCutUnit - 1) / kRowCutUnit, macs, pool, [&](int ub, int ue) {
      const int r0 = ub * kRowCutUnit, r1 = std::min(out_rows, ue * kRowCutUnit);
      conv1d_rows(st.buffer.data() + r0 * x_step, weight_.data(), bias, shape_, r1 - r0, 0, panels,
                  y + size_t(r0) * shape_.out_channels);
    });
  }
  keep_history(st.buffer, ctx, rows, C);
  st.first = false;
}

void Conv1d::forward(const float* x, int rows, Conv1dState& st, float* y, ThreadPool* pool) const {
  float* in = input(st, rows);
  std::memcpy(in, x, size_t(rows) * shape_.in_channels * sizeof(float));
  forward_input(rows, st, y, pool);
}

std::vector<float> Conv1d::forward(const float* x, int rows, ThreadPool* pool) const {
  std::vector<float> y(size_t(output_rows(rows)) * shape_.out_channels);
  Conv1dState st = new_state();
  forward(x, rows, st, y.data(), pool);
  return y;
}

void ConvTranspose1dState::reset() { std::fill(buffer.begin(), buffer.end(), 0.0f); }

ConvTranspose1d::ConvTranspose1d(ConvShape shape, bool bias, std::string what)
    : shape_(shape), has_bias_(bias), what_(std::move(what)) {
  shape_.validate(what_);
  if (shape_.dilation != 1) fail(ErrorCode::InvalidConfig, what_, ": transposed convolutions take no dilation");
  if (shape_.kernel < shape_.stride)
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
  st.context = context();
  st.buffer.assign(size_t(context()) * shape_.in_channels, 0.0f);
  return st;
}

float* ConvTranspose1d::input(ConvTranspose1dState& st, int rows) const {
  if (rows <= 0) fail(ErrorCode::InvalidArgument, what_, ": a step needs at least one input step, got ", rows);
  if (st.context != context()) fail(ErrorCode::InvalidState, what_, ": state of another layer");
  return input_rows(st.buffer, st.context, rows, shape_.in_channels);
}

void ConvTranspose1d::forward_input(int rows, ConvTranspose1dState& st, float* y, ThreadPool* pool) const {
  if (weight_.empty()) fail(ErrorCode::InvalidState, what_, ": weights not loaded");
  if (rows <= 0) fail(ErrorCode::InvalidArgument, what_, ": a step needs at least one input step, got ", rows);
  const int C = shape_.in_channels;
  check_buffer(st.buffer, context(), st.context, rows, C, what_);
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  const double macs = double(rows) * shape_.out_channels * shape_.kernel * shape_.in_per_group();
  for_units(shape_.stride * conv_panels(shape_), macs, pool, [&](int ub, int ue) {
    conv_transpose1d_rows(st.buffer.data(), weight_.data(), bias, shape_, rows, ub, ue, y);
  });
  keep_history(st.buffer, context(), rows, C);
}

void ConvTranspose1d::forward(const float* x, int rows, ConvTranspose1dState& st, float* y, ThreadPool* pool) const {
  float* in = input(st, rows);
  std::memcpy(in, x, size_t(rows) * shape_.in_channels * sizeof(float));
  forward_input(rows, st, y, pool);
}

std::vector<float> ConvTranspose1d::forward(const float* x, int rows, ThreadPool* pool) const {
  if (rows <= 0) fail(ErrorCode::InvalidArgument, what_, ": a step needs at least one input step, got ", rows);
  std::vector<float> y(size_t(rows) * shape_.stride * shape_.out_channels);
  ConvTranspose1dState st = new_state();
  forward(x, rows, st, y.data(), pool);
  return y;
}

}  // namespace kyutai
