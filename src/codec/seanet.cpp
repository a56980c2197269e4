#include "codec/seanet.h"

#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"

namespace kyutai {

namespace {

PadMode pad_mode(const SeanetConfig& c) { return c.pad_mode == "replicate" ? PadMode::Replicate : PadMode::Constant; }

int int_pow(int base, int exponent) {
  int v = 1;
  for (int i = 0; i < exponent; ++i) v *= base;
  return v;
}

Conv1d make_conv(const SeanetConfig& c, int in, int out, int kernel, int stride, int dilation,
                 const std::string& what) {
  ConvShape s;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = kernel;
  s.stride = stride;
  s.dilation = dilation;
  return Conv1d(s, /*bias=*/true, pad_mode(c), what);
}

// Residual block j of a stage working at `dim` channels.
SeanetResBlock make_block(const SeanetConfig& c, int dim, int j, const std::string& what) {
  SeanetResBlock b;
  const int hidden = dim / c.compress;
  if (hidden < 1)
    fail(ErrorCode::InvalidConfig, what, ": ", dim, " channels / compress ", c.compress, " leaves no hidden channel");
  b.conv1 = make_conv(c, dim, hidden, c.residual_kernel_size, 1, int_pow(c.dilation_base, j), what + " block.1");
  b.conv2 = make_conv(c, hidden, dim, 1, 1, 1, what + " block.3");
  b.conv_skip = !c.true_skip;
  if (b.conv_skip) b.shortcut = make_conv(c, dim, dim, 1, 1, 1, what + " shortcut");
  return b;
}

void declare_block(SeanetResBlock& b, WeightLoader& loader, const std::string& name) {
  b.conv1.declare_weights(loader, name + ".block.1.conv.conv");
  b.conv2.declare_weights(loader, name + ".block.3.conv.conv");
  if (b.conv_skip) b.shortcut.declare_weights(loader, name + ".shortcut.conv.conv");
}

void prepare_block(SeanetResBlock& b) {
  b.conv1.prepare();
  b.conv2.prepare();
  if (b.conv_skip) b.shortcut.prepare();
}

void add_block_states(const SeanetResBlock& b, SeanetState& st) {
  st.convs.push_back(b.conv1.new_state());
  st.convs.push_back(b.conv2.new_state());
  if (b.conv_skip) st.convs.push_back(b.shortcut.new_state());
}

// Hands out the convolution states in network order during a step.
struct StateCursor {
  SeanetState& st;
  size_t conv = 0, convtr = 0;
  Conv1dState& next_conv() {
    if (conv >= st.convs.size()) fail(ErrorCode::InvalidState, "SEANet state does not match the network");
    return st.convs[conv++];
  }
  ConvTranspose1dState& next_convtr() {
    if (convtr >= st.convtrs.size()) fail(ErrorCode::InvalidState, "SEANet state does not match the network");
    return st.convtrs[convtr++];
  }
};

// Calls fn(begin, end) over [0, n) values, split across the pool when there are enough: the
// activations and residual adds between convolutions would otherwise run on one thread while
// the others wait.
template <class Fn>
void for_values(size_t n, ThreadPool* pool, const Fn& fn) {
  constexpr size_t kChunk = 2048;
  if (!pool || pool->threads() <= 1 || n < 2 * kChunk) {
    fn(size_t(0), n);
    return;
  }
  pool->parallel_for(int((n + kChunk - 1) / kChunk),
                     [&](int a, int b) { fn(size_t(a) * kChunk, std::min(n, size_t(b) * kChunk)); });
}

// out[0, n) = ELU(x[0, n)): the activation before every convolution but the first, written
// straight into the convolution's input buffer.
void elu_into(const float* x, size_t n, float* out, ThreadPool* pool) {
  for_values(n, pool, [&](size_t a, size_t b) {
    std::copy(x + a, x + b, out + a);
    activate_inplace(Activation::Elu, out + a, int(b - a));
  });
}

// x [rows][dim] <- skip(x) + conv2(ELU(conv1(ELU(x)))), in place.
void run_block(const SeanetResBlock& b, int rows, StateCursor& cur, ThreadPool* pool) {
  SeanetState& st = cur.st;
  const size_t dim = b.conv1.shape().in_channels, hidden = b.conv1.shape().out_channels;
  const size_t n = rows * dim;
  Conv1dState& s1 = cur.next_conv();
  Conv1dState& s2 = cur.next_conv();
  elu_into(st.signal.data(), n, b.conv1.input(s1, rows), pool);
  float* branch = b.conv2.input(s2, rows);
  b.conv1.forward_input(rows, s1, branch, pool);
  for_values(rows * hidden, pool,
             [&](size_t a, size_t e) { activate_inplace(Activation::Elu, branch + a, int(e - a)); });
  st.hidden.resize(n);
  b.conv2.forward_input(rows, s2, st.hidden.data(), pool);
  if (b.conv_skip) {
    st.next.resize(n);
    b.shortcut.forward(st.signal.data(), rows, cur.next_conv(), st.next.data(), pool);
    for_values(n, pool, [&](size_t a, size_t e) {
      for (size_t i = a; i < e; ++i) st.signal[i] = st.next[i] + st.hidden[i];
    });
  } else {
    for_values(n, pool, [&](size_t a, size_t e) {
      for (size_t i = a; i < e; ++i) st.signal[i] += st.hidden[i];
    });
  }
}

}  // namespace

void SeanetState::reset() {
  for (auto& c : convs) c.reset();
  for (auto& c : convtrs) c.reset();
}

// Kyutai's layer list: conv, then per ratio (reversed) the residual blocks, ELU and a
// strided conv doubling the width, then ELU and the last conv to `dimension`.
SeanetEncoder::SeanetEncoder(const SeanetConfig& c) : hop_(c.hop_length()), dimension_(c.dimension) {
  int mult = 1;
  first_ = make_conv(c, c.channels, c.n_filters, c.kernel_size, 1, 1, "encoder.model.0");
  int index = 1;
  std::vector<int> ratios(c.ratios.rbegin(), c.ratios.rend());
  for (int ratio : ratios) {
    Stage stage;
    for (int j = 0; j < c.n_residual_layers; ++j)
      stage.blocks.push_back(make_block(c, mult * c.n_filters, j, "encoder.model." + std::to_string(index++)));
    index++;  // ELU
    stage.downsample = make_conv(c, mult * c.n_filters, 2 * mult * c.n_filters, 2 * ratio, ratio, 1,
                                 "encoder.model." + std::to_string(index++));
    stages_.push_back(std::move(stage));
    mult *= 2;
  }
  last_ = make_conv(c, mult * c.n_filters, c.dimension, c.last_kernel_size, 1, 1,
                    "encoder.model." + std::to_string(index + 1));
}

void SeanetEncoder::declare_weights(WeightLoader& loader, const std::string& prefix) {
  int index = 0;
  first_.declare_weights(loader, prefix + std::to_string(index++) + ".conv.conv");
  for (Stage& s : stages_) {
    for (SeanetResBlock& b : s.blocks) declare_block(b, loader, prefix + std::to_string(index++));
    index++;  // ELU
    s.downsample.declare_weights(loader, prefix + std::to_string(index++) + ".conv.conv");
  }
  index++;  // ELU
  last_.declare_weights(loader, prefix + std::to_string(index) + ".conv.conv");
}

void SeanetEncoder::prepare() {
  first_.prepare();
  for (Stage& s : stages_) {
    for (SeanetResBlock& b : s.blocks) prepare_block(b);
    s.downsample.prepare();
  }
  last_.prepare();
}

SeanetState SeanetEncoder::new_state() const {
  SeanetState st;
  st.convs.push_back(first_.new_state());
  for (const Stage& s : stages_) {
    for (const SeanetResBlock& b : s.blocks) add_block_states(b, st);
    st.convs.push_back(s.downsample.new_state());
  }
  st.convs.push_back(last_.new_state());
  return st;
}

void SeanetEncoder::forward(const float* pcm, int samples, SeanetState& st, float* latent, ThreadPool* pool) const {
  if (samples <= 0 || samples % hop_ != 0)
    fail(ErrorCode::InvalidArgument, "SEANet encoder: ", samples, " samples is not a positive multiple of the hop ",
         hop_);
  StateCursor cur{st};
  int rows = samples;
  st.signal.resize(size_t(rows) * first_.shape().out_channels);
  first_.forward(pcm, rows, cur.next_conv(), st.signal.data(), pool);
  for (const Stage& s : stages_) {
    for (const SeanetResBlock& b : s.blocks) run_block(b, rows, cur, pool);
    const ConvShape& shape = s.downsample.shape();
    Conv1dState& down = cur.next_conv();
    elu_into(st.signal.data(), size_t(rows) * shape.in_channels, s.downsample.input(down, rows), pool);
    const int out_rows = s.downsample.output_rows(rows);
    st.next.resize(size_t(out_rows) * shape.out_channels);
    s.downsample.forward_input(rows, down, st.next.data(), pool);
    std::swap(st.signal, st.next);
    rows = out_rows;
  }
  Conv1dState& last = cur.next_conv();
  elu_into(st.signal.data(), size_t(rows) * last_.shape().in_channels, last_.input(last, rows), pool);
  last_.forward_input(rows, last, latent, pool);
}

// Kyutai's layer list: conv to the widest width, then per ratio ELU, a transposed conv
// halving the width and the residual blocks, then ELU and the last conv to `channels`.
SeanetDecoder::SeanetDecoder(const SeanetConfig& c) : hop_(c.hop_length()), channels_(c.channels) {
  int mult = int_pow(2, int(c.ratios.size()));
  first_ = make_conv(c, c.dimension, mult * c.n_filters, c.kernel_size, 1, 1, "decoder.model.0");
  int index = 1;
  for (int ratio : c.ratios) {
    Stage stage;
    index++;  // ELU
    ConvShape s;
    s.in_channels = mult * c.n_filters;
    s.out_channels = mult * c.n_filters / 2;
    s.kernel = 2 * ratio;
    s.stride = ratio;
    stage.upsample = ConvTranspose1d(s, /*bias=*/true, "decoder.model." + std::to_string(index++));
    for (int j = 0; j < c.n_residual_layers; ++j)
      stage.blocks.push_back(make_block(c, mult * c.n_filters / 2, j, "decoder.model." + std::to_string(index++)));
    stages_.push_back(std::move(stage));
    mult /= 2;
  }
  last_ = make_conv(c, c.n_filters, c.channels, c.last_kernel_size, 1, 1, "decoder.model." + std::to_string(index + 1));
}

void SeanetDecoder::declare_weights(WeightLoader& loader, const std::string& prefix) {
  int index = 0;
  first_.declare_weights(loader, prefix + std::to_string(index++) + ".conv.conv");
  for (Stage& s : stages_) {
    index++;  // ELU
    s.upsample.declare_weights(loader, prefix + std::to_string(index++) + ".convtr.convtr");
    for (SeanetResBlock& b : s.blocks) declare_block(b, loader, prefix + std::to_string(index++));
  }
  index++;  // ELU
  last_.declare_weights(loader, prefix + std::to_string(index) + ".conv.conv");
}

void SeanetDecoder::prepare() {
  first_.prepare();
  for (Stage& s : stages_) {
    s.upsample.prepare();
    for (SeanetResBlock& b : s.blocks) prepare_block(b);
  }
  last_.prepare();
}

SeanetState SeanetDecoder::new_state() const {
  SeanetState st;
  st.convs.push_back(first_.new_state());
  for (const Stage& s : stages_) {
    st.convtrs.push_back(s.upsample.new_state());
    for (const SeanetResBlock& b : s.blocks) add_block_states(b, st);
  }
  st.convs.push_back(last_.new_state());
  return st;
}

void SeanetDecoder::forward(const float* latent, int steps, SeanetState& st, float* pcm, ThreadPool* pool) const {
  if (steps <= 0) fail(ErrorCode::InvalidArgument, "SEANet decoder: needs at least one latent step, got ", steps);
  StateCursor cur{st};
  int rows = steps;
  st.signal.resize(size_t(rows) * first_.shape().out_channels);
  first_.forward(latent, rows, cur.next_conv(), st.signal.data(), pool);
  for (const Stage& s : stages_) {
    const ConvShape& shape = s.upsample.shape();
    ConvTranspose1dState& up = cur.next_convtr();
    elu_into(st.signal.data(), size_t(rows) * shape.in_channels, s.upsample.input(up, rows), pool);
    const int out_rows = rows * shape.stride;
    st.next.resize(size_t(out_rows) * shape.out_channels);
    s.upsample.forward_input(rows, up, st.next.data(), pool);
    std::swap(st.signal, st.next);
    rows = out_rows;
    for (const SeanetResBlock& b : s.blocks) run_block(b, rows, cur, pool);
  }
  Conv1dState& last = cur.next_conv();
  elu_into(st.signal.data(), size_t(rows) * last_.shape().in_channels, last_.input(last, rows), pool);
  last_.forward_input(rows, last, pcm, pool);
}

}  // namespace kyutai
