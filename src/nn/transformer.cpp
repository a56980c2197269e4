#include "nn/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "nn/weight_loader.h"

namespace kyutai {

bool parse_pos_emb(const std::string& name, PosEmb* out) {
  for (PosEmb p : {PosEmb::None, PosEmb::Sin, PosEmb::Rope, PosEmb::SinRope, PosEmb::RopeConcat})
    if (name == pos_emb_name(p)) {
      *out = p;
      return true;
    }
  return false;
}

const char* pos_emb_name(PosEmb p) {
  switch (p) {
    case PosEmb::None: return "none";
    case PosEmb::Sin: return "sin";
    case PosEmb::Rope: return "rope";
    case PosEmb::SinRope: return "sin_rope";
    case PosEmb::RopeConcat: return "rope_concat";
  }
  return "?";
}

bool parse_gating(const std::string& name, bool* gated, Activation* activation) {
  static const std::pair<const char*, Activation> table[] = {
      {"gelu", Activation::Gelu},        {"silu", Activation::Silu}, {"sigmoid", Activation::Sigmoid},
      {"tanh", Activation::Tanh},        {"relu", Activation::Relu}, {"leaky_relu", Activation::LeakyRelu},
      {"elu", Activation::Elu},          {"mish", Activation::Mish}, {"softsign", Activation::Softsign},
      {"identity", Activation::Identity}};
  if (name == "none") {
    *gated = false;
    *activation = Activation::Gelu;
    return true;
  }
  for (const auto& [n, a] : table)
    if (name == n) {
      *gated = true;
      *activation = a;
      return true;
    }
  return false;
}

void PositionalEncoding::add_to_input(float* x, int rows, int dim, int64_t first_position) const {
  if (!pos_has_sin(kind)) return;
  for (int t = 0; t < rows; ++t) add_sin_embedding(x + size_t(t) * dim, dim, first_position + t, max_period, scale);
}

void PositionalEncoding::rotate(float* v, int heads, int d_head, int64_t position) const {
  if (!pos_has_rope(kind)) return;
  apply_rope(v, heads, d_head, position, max_period, kind != PosEmb::RopeConcat);
}

TransformerConfig TransformerConfig::from_keys(int d_model, int num_heads, int num_layers, int kv_repeat,
                                               const std::string& norm, const std::string& positional_embedding,
                                               double max_period, double positional_scale, const std::string& gating,
                                               std::vector<int> dim_feedforward, std::optional<double> layer_scale,
                                               std::optional<int> context) {
  TransformerConfig c;
  c.d_model = d_model;
  c.num_heads = num_heads;
  c.num_layers = num_layers;
  c.kv_repeat = kv_repeat;
  parse_norm_kind(norm, &c.norm);
  parse_pos_emb(positional_embedding, &c.positional.kind);
  c.positional.max_period = max_period;
  c.positional.scale = float(positional_scale);
  parse_gating(gating, &c.gated, &c.activation);
  c.dim_feedforward = std::move(dim_feedforward);
  c.layer_scale = layer_scale;
  c.context = context;
  return c;
}

int TransformerConfig::num_weight_sets() const {
  if (weights_per_step == 0) return 1;
  if (!weights_per_step_schedule.empty())
    return *std::max_element(weights_per_step_schedule.begin(), weights_per_step_schedule.end()) + 1;
  return weights_per_step;
}

int TransformerConfig::weight_set(int64_t position) const {
  if (num_weight_sets() == 1) return 0;
  if (position < 0 || position >= weights_per_step)
    fail(ErrorCode::InvalidState, "per-step weights exist for positions 0..", weights_per_step - 1, ", got position ",
         position);
  return weights_per_step_schedule.empty() ? int(position) : weights_per_step_schedule[position];
}

int TransformerConfig::ffn_hidden(int set) const {
  int dff = ffn_dim(set);
  if (!gated) return dff;
  return dff == 4 * d_model ? (21 * d_model) / 8 : (2 * dff) / 3;
}

void TransformerConfig::validate(const std::string& what) const {
  if (d_model <= 0 || num_heads <= 0 || d_model % num_heads != 0)
    fail(ErrorCode::InvalidConfig, what, ": dim ", d_model, " must be a positive multiple of num_heads ", num_heads);
  if (head_dim() % 2 != 0 && (pos_has_rope(positional.kind)))
    fail(ErrorCode::InvalidConfig, what, ": RoPE needs an even head dimension, got ", head_dim());
  if (pos_has_sin(positional.kind) && (d_model % 2 != 0 || d_model < 4))
    fail(ErrorCode::InvalidConfig, what, ": the sinusoidal embedding needs an even dim >= 4, got ", d_model);
  if (kv_repeat <= 0 || num_heads % kv_repeat != 0)
    fail(ErrorCode::InvalidConfig, what, ": kv_repeat ", kv_repeat, " must divide num_heads ", num_heads);
  if (num_layers < 0) fail(ErrorCode::InvalidConfig, what, ": num_layers must be >= 0");
  if (!gated && weights_per_step)
    fail(ErrorCode::InvalidConfig, what,
         ": weights_per_step without gating not supported for now (Kyutai's code rejects gating 'none' with per-step "
         "weights)");
  if (!gated && dim_feedforward.size() > 1)
    fail(ErrorCode::InvalidConfig, what, ": a list dim_feedforward needs gating");
  if (!weights_per_step_schedule.empty()) {
    if (!weights_per_step)
      fail(ErrorCode::InvalidConfig, what, ": depformer_weights_per_step_schedule needs depformer_weights_per_step");
    if (int(weights_per_step_schedule.size()) != weights_per_step)
      fail(ErrorCode::InvalidConfig, what, ": weights_per_step_schedule has ", weights_per_step_schedule.size(),
           " entries, expected ", weights_per_step);
    for (int s : weights_per_step_schedule)
      if (s < 0) fail(ErrorCode::InvalidConfig, what, ": negative entry in weights_per_step_schedule");
  }
  if (dim_feedforward.empty()) fail(ErrorCode::InvalidConfig, what, ": missing dim_feedforward");
  if (dim_feedforward.size() != 1 && int(dim_feedforward.size()) != num_weight_sets())
    fail(ErrorCode::InvalidConfig, what, ": dim_feedforward has ", dim_feedforward.size(), " entries, expected ",
         num_weight_sets(), " (one per weight set)");
  for (int s = 0; s < num_weight_sets(); ++s)
    if (ffn_hidden(s) <= 0) fail(ErrorCode::InvalidConfig, what, ": feed-forward size must be positive");
  if (context && *context <= 0) fail(ErrorCode::InvalidConfig, what, ": context must be positive");
}

size_t CrossSource::bytes() const {
  size_t n = positions.capacity() * 8;
  for (const auto* v : {&keys, &values})
    for (const auto& l : *v) n += l.capacity() * 4;
  return n;
}

void TransformerState::reset() {
  offset = 0;
  for (auto& l : layers) l.reset();
}

size_t TransformerState::bytes() const {
  size_t n = 0;
  for (const auto& l : layers) n += l.bytes();
  n += cross.bytes();
  for (const auto* v : {&normed, &qkv, &attn, &proj, &hidden, &scores}) n += v->capacity() * 4;
  return n;
}

Transformer::Transformer(TransformerConfig config) : config_(std::move(config)) { layers_.resize(config_.num_layers); }

void Transformer::declare_weights(WeightLoader& loader, const std::string& prefix) {
  const TransformerConfig& c = config_;
  const int D = c.d_model;
  const int sets = c.num_weight_sets();
  const int qkv_rows = D + 2 * c.num_kv_heads() * c.head_dim();
  for (int i = 0; i < c.num_layers; ++i) {
    std::string p = prefix + "layers." + std::to_string(i) + ".";
    TransformerLayer& L = layers_[i];
    loader.norm(p + "norm1", c.norm, D, &L.norm1);
    loader.norm(p + "norm2", c.norm, D, &L.norm2);
    loader.linear_set(
        p + "self_attn.in_proj_weight", [p](int s) { return p + "self_attn.in_projs." + std::to_string(s); }, sets,
        qkv_rows, D, &L.in_proj);
    loader.linear_set(
        p + "self_attn.out_proj.weight", [p](int s) { return p + "self_attn.out_projs." + std::to_string(s); }, sets, D,
        D, &L.out_proj);
    L.ffn_in.resize(sets);
    L.ffn_out.resize(sets);
    if (c.gated) {
      for (int s = 0; s < sets; ++s) {
        std::string g = c.weights_per_step ? p + "gating." + std::to_string(s) + "." : p + "gating.";
        int hidden = c.ffn_hidden(s);
        loader.linear(g + "linear_in", 2 * hidden, D, &L.ffn_in[s]);
        loader.linear(g + "linear_out", D, hidden, &L.ffn_out[s]);
      }
    } else {
      loader.linear(p + "linear1", c.ffn_dim(0), D, &L.ffn_in[0]);
      loader.linear(p + "linear2", D, c.ffn_dim(0), &L.ffn_out[0]);
    }
    if (c.cross_attention) {
      // Kyutai's TTS: LayerNorm (eps 1e-5, with bias) whatever `norm` is; q|k|v in one tensor.
      loader.norm(p + "norm_cross", NormKind::LayerNorm, D, &L.norm_cross);
      static const char* parts[] = {"q", "k", "v"};
      loader.linear_set(
          p + "cross_attention.in_projs.0.weight", [p](int s) { return p + "cross_attention.in_projs.0." + parts[s]; },
          3, D, D, &L.cross_in);
      loader.linear(p + "cross_attention.out_projs.0", D, D, &L.cross_out);
    }
    if (c.layer_scale) {
      loader.vector(p + "layer_scale_1.scale", {D}, &L.scale1);
      loader.vector(p + "layer_scale_2.scale", {D}, &L.scale2);
    }
  }
}

int Transformer::streaming_capacity() const {
  if (config_.context) return *config_.context;
  if (config_.weights_per_step) return config_.weights_per_step;
  fail(ErrorCode::InvalidConfig,
       "Cannot create a streaming KVCache without a context to estimate capacity (context is null)");
}

TransformerState Transformer::new_state(int capacity, KvFormat kv_format) const {
  TransformerState st;
  st.layers.resize(config_.num_layers);
  for (auto& l : st.layers) l.allocate(capacity, config_.num_kv_heads(), config_.head_dim(), kv_format);
  return st;
}

void Transformer::for_each_matrix(const std::function<void(const PackedMatrix&)>& visit) const {
  for (const auto& L : layers_) {
    for (const auto* v : {&L.in_proj, &L.out_proj})
      for (const auto& l : *v) visit(l.weight);
    if (config_.cross_attention) {
      visit(L.cross_in[0].weight);  // keys and values are computed once per stream, not per frame
      visit(L.cross_out.weight);
    }
    for (const auto* v : {&L.ffn_in, &L.ffn_out})
      for (const auto& l : *v) visit(l.weight);
  }
}

size_t Transformer::weight_bytes() const {
  size_t n = 0;
  for_each_matrix([&](const PackedMatrix& m) { n += m.bytes(); });
  if (config_.cross_attention)  // keys and values: held, though read once per stream
    for (const auto& L : layers_) n += L.cross_in[1].weight.bytes() + L.cross_in[2].weight.bytes();
  return n;
}

namespace {

// Runs `linears[set(t)]` on each row, batching consecutive rows that share a set.
void per_step_linear(const std::vector<Linear>& linears, const TransformerConfig& c, int64_t offset, const float* x,
                     int T, float* y, ThreadPool* pool) {
  if (linears.size() == 1) {
    linears[0].forward(x, T, y, pool);
    return;
  }
  for (int t = 0; t < T; ++t) {
    const Linear& l = linears[c.weight_set(offset + t)];
    l.forward(x + size_t(t) * l.in(), 1, y + size_t(t) * l.out(), pool);
  }
}

void residual_add(const float* update, const std::vector<float>& scale, int T, int D, float* x) {
  for (int t = 0; t < T; ++t) {
    const float* u = update + size_t(t) * D;
    float* xt = x + size_t(t) * D;
    if (scale.empty())
      for (int i = 0; i < D; ++i) xt[i] += u[i];
    else
      for (int i = 0; i < D; ++i) xt[i] += scale[i] * u[i];
  }
}

}  // namespace

void Transformer::attention_block(const TransformerLayer& L, KvCache& cache, float* x, int T, TransformerState& st,
                                  ThreadPool* pool) const {
  const TransformerConfig& c = config_;
  const int D = c.d_model, H = c.num_heads, KH = c.num_kv_heads(), dh = c.head_dim();
  const int qkv_rows = D + 2 * KH * dh;
  st.normed.resize(size_t(T) * D);
  st.qkv.resize(size_t(T) * qkv_rows);
  st.attn.resize(size_t(T) * D);
  st.proj.resize(size_t(T) * D);
  L.norm1.forward(x, T, st.normed.data());
  per_step_linear(L.in_proj, c, st.offset, st.normed.data(), T, st.qkv.data(), pool);

  // Rotate and write the whole chunk into the cache before any query attends.
  for (int t = 0; t < T; ++t) {
    float* q = st.qkv.data() + size_t(t) * qkv_rows;
    float* k = q + D;
    float* v = k + KH * dh;
    const int64_t pos = st.offset + t;
    c.positional.rotate(q, H, dh, pos);
    c.positional.rotate(k, KH, dh, pos);
    int slot = int((cache.end + t) % cache.capacity);
    for (int h = 0; h < KH; ++h) cache.write(h, slot, k + size_t(h) * dh, v + size_t(h) * dh);
    cache.positions[slot] = cache.end + t;
  }
  cache.end += T;

  // One task per (step, head): heads are independent, and a full 750-entry window over 16
  // heads is worth splitting across threads.
  const float scale = 1.0f / std::sqrt(float(dh));
  const int64_t window = c.context ? *c.context : 0;
  const int tasks = T * H;
  st.scores.resize(size_t(tasks) * cache.capacity);
  auto attend_range = [&](int begin, int end) {
    for (int task = begin; task < end; ++task) {
      const int t = task / H, h = task % H, kh = h / c.kv_repeat;
      const float* q = st.qkv.data() + size_t(t) * qkv_rows + size_t(h) * dh;
      const size_t rows = size_t(kh) * cache.capacity * dh;
      float* scores = st.scores.data() + size_t(task) * cache.capacity;
      float* out = st.attn.data() + size_t(t) * D + size_t(h) * dh;
      if (cache.format == KvFormat::BF16)
        attend(q, cache.keys_bf16.data() + rows, cache.values_bf16.data() + rows, cache.positions.data(),
               cache.capacity, dh, st.offset + t, window, scale, scores, out);
      else
        attend(q, cache.keys.data() + rows, cache.values.data() + rows, cache.positions.data(), cache.capacity, dh,
               st.offset + t, window, scale, scores, out);
    }
  };
  if (pool && pool->threads() > 1 && size_t(tasks) * cache.capacity * dh >= 32 * 1024)
    pool->parallel_for(tasks, attend_range);
  else attend_range(0, tasks);
  per_step_linear(L.out_proj, c, st.offset, st.attn.data(), T, st.proj.data(), pool);
  residual_add(st.proj.data(), L.scale1, T, D, x);
}

void Transformer::set_cross_source(const float* src, int S, TransformerState& st, ThreadPool* pool) const {
  if (!config_.cross_attention) fail(ErrorCode::InvalidState, "this transformer has no cross-attention");
  if (S <= 0) fail(ErrorCode::InvalidArgument, "the cross-attention source needs at least 1 position, got ", S);
  const int D = config_.d_model, H = config_.num_heads, dh = config_.head_dim();
  CrossSource& cs = st.cross;
  cs.length = S;
  cs.positions.resize(S);
  for (int s = 0; s < S; ++s) cs.positions[s] = s;
  cs.keys.resize(layers_.size());
  cs.values.resize(layers_.size());
  std::vector<float> rows(size_t(S) * D);
  // [S, H * dh] -> [H, S, dh]: each head's rows contiguous, as attend() reads them.
  auto per_head = [&](const Linear& proj, std::vector<float>& dst) {
    proj.forward(src, S, rows.data(), pool);
    dst.resize(size_t(S) * D);
    for (int h = 0; h < H; ++h)
      for (int s = 0; s < S; ++s)
        std::memcpy(dst.data() + (size_t(h) * S + s) * dh, rows.data() + size_t(s) * D + size_t(h) * dh,
                    sizeof(float) * dh);
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    per_head(layers_[i].cross_in[1], cs.keys[i]);
    per_head(layers_[i].cross_in[2], cs.values[i]);
  }
}

void Transformer::cross_attention_block(const TransformerLayer& L, const float* keys, const float* values,
                                        const CrossSource& cs, float* x, int T, TransformerState& st,
                                        ThreadPool* pool) const {
  const int D = config_.d_model, H = config_.num_heads, dh = config_.head_dim(), S = cs.length;
  st.normed.resize(size_t(T) * D);
  st.qkv.resize(size_t(T) * D);
  st.attn.resize(size_t(T) * D);
  st.proj.resize(size_t(T) * D);
  L.norm_cross.forward(x, T, st.normed.data());
  L.cross_in[0].forward(st.normed.data(), T, st.qkv.data(), pool);
  // No rotation, no mask, no causality: every query sees all S source positions (query
  // position S - 1 with an unbounded window). One task per (step, head), as self-attention.
  const float scale = 1.0f / std::sqrt(float(dh));
  const int tasks = T * H;
  st.scores.resize(size_t(tasks) * S);
  auto attend_range = [&](int begin, int end) {
    for (int task = begin; task < end; ++task) {
      const int t = task / H, h = task % H;
      const size_t head = size_t(h) * S * dh;
      attend(st.qkv.data() + size_t(t) * D + size_t(h) * dh, keys + head, values + head, cs.positions.data(), S, dh,
             S - 1, 0, scale, st.scores.data() + size_t(task) * S, st.attn.data() + size_t(t) * D + size_t(h) * dh);
    }
  };
  if (pool && pool->threads() > 1 && size_t(tasks) * S * dh >= 32 * 1024) pool->parallel_for(tasks, attend_range);
  else attend_range(0, tasks);
  L.cross_out.forward(st.attn.data(), T, st.proj.data(), pool);
  residual_add(st.proj.data(), {}, T, D, x);
}

void Transformer::ffn_block(const TransformerLayer& L, float* x, int T, TransformerState& st, ThreadPool* pool) const {
  const TransformerConfig& c = config_;
  const int D = c.d_model;
  st.normed.resize(size_t(T) * D);
  st.proj.resize(size_t(T) * D);
  L.norm2.forward(x, T, st.normed.data());
  int max_in = 0;
  for (const auto& l : L.ffn_in) max_in = std::max(max_in, l.out());
  st.hidden.resize(size_t(T) * max_in);
  for (int t0 = 0; t0 < T;) {
    // Rows sharing a weight set run as one product.
    int set = L.ffn_in.size() == 1 ? 0 : c.weight_set(st.offset + t0);
    int t1 = t0 + 1;
    while (t1 < T && (L.ffn_in.size() == 1 || c.weight_set(st.offset + t1) == set)) ++t1;
    const Linear& lin = L.ffn_in[set];
    const Linear& lout = L.ffn_out[set];
    const int rows = t1 - t0;
    lin.forward(st.normed.data() + size_t(t0) * D, rows, st.hidden.data(), pool);
    const int hidden = lout.in();
    if (c.gated) {
      // [a | b] = linear_in(x); act(a) * b, compacted in place to [rows, hidden]. Through the
      // vector kernels: SiLU one value at a time was ~0.6 ms of an STT-1B frame.
      for (int r = 0; r < rows; ++r) {
        float* a = st.hidden.data() + size_t(r) * 2 * hidden;
        float* dst = st.hidden.data() + size_t(r) * hidden;  // == a for row 0, before a for later rows
        activate_inplace(c.activation, a, hidden);
        scale_inplace(a + hidden, hidden, a);
        if (dst != a) std::memmove(dst, a, sizeof(float) * hidden);
      }
    } else {
      activate_inplace(c.activation, st.hidden.data(), rows * hidden);
    }
    lout.forward(st.hidden.data(), rows, st.proj.data() + size_t(t0) * D, pool);
    t0 = t1;
  }
  residual_add(st.proj.data(), L.scale2, T, D, x);
}

void Transformer::forward(float* x, int T, TransformerState& state, ThreadPool* pool, LayerObserver* observer,
                          LayerObserver* updates) const {
  if (T <= 0) return;
  if (state.layers.size() != layers_.size())
    fail(ErrorCode::InvalidState, "transformer state has ", state.layers.size(), " layers, model has ", layers_.size());
  if (config_.cross_attention && state.cross.keys.size() != layers_.size())
    fail(ErrorCode::InvalidState,
         "this transformer cross-attends: set its source (the condition) before the first step");
  const size_t n = size_t(T) * config_.d_model;
  std::vector<float> before;
  auto record_update = [&] {  // the residual update since `before`
    if (!updates) return;
    std::vector<float> u(x, x + n);
    for (size_t j = 0; j < n; ++j) u[j] -= before[j];
    updates->push_back(std::move(u));
  };
  config_.positional.add_to_input(x, T, config_.d_model, state.offset);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (updates) before.assign(x, x + n);
    attention_block(layers_[i], state.layers[i], x, T, state, pool);
    record_update();
    if (config_.cross_attention) {
      if (updates) before.assign(x, x + n);
      cross_attention_block(layers_[i], state.cross.keys[i].data(), state.cross.values[i].data(), state.cross, x, T,
                            state, pool);
      record_update();
    }
    ffn_block(layers_[i], x, T, state, pool);
    if (observer) observer->emplace_back(x, x + size_t(T) * config_.d_model);
  }
  state.offset += T;
}

}  // namespace kyutai
