#include "bench_core.h"
#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#if defined(__GLIBC__) || defined(__EMSCRIPTEN__)
#include <malloc.h>
#endif
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/native_linear.h"
#include "kernels/quant_accuracy.h"
#include "lm/lm_model.h"
#include "lm/sampling.h"
#include "lm/synthetic_checkpoint.h"
#include "nn/weight_loader.h"
#include "session/asr_session.h"

namespace kyutai::bench {

namespace {

// Times `run` (which performs `calls` operations) `repeats` times; median ms per operation.
double time_per_call(int repeats, int calls, const std::function<void()>& run) {
  run();  // warm-up
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    double t0 = now_ms();
    run();
    samples.push_back((now_ms() - t0) / calls);
  }
  return median(samples);
}

float sum_floats(const float* p, size_t n) {
#ifdef __wasm_simd128__
  v128_t a[8];
  for (auto& v : a) v = wasm_f32x4_splat(0);
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 8; ++j) a[j] = wasm_f32x4_add(a[j], wasm_v128_load(p + i + 4 * j));
  v128_t s = a[0];
  for (int j = 1; j < 8; ++j) s = wasm_f32x4_add(s, a[j]);
  float r = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
            wasm_f32x4_extract_lane(s, 3);
  for (; i < n; ++i) r += p[i];
  return r;
#else
  float acc[16] = {0};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
  float r = 0;
  for (float v : acc) r += v;
  for (; i < n; ++i) r += p[i];
  return r;
#endif
}

volatile float g_sink;

using Spans = std::vector<std::pair<const uint8_t*, size_t>>;

// The bytes a product reads from `m`: its weights, and its scales when it has them.
void add_spans(const PackedMatrix& m, Spans& spans) {
  spans.emplace_back(m.data.data(), m.data.bytes());
  if (m.scales.bytes()) spans.emplace_back(reinterpret_cast<const uint8_t*>(m.scales.data()), m.scales.bytes());
}

// Reads every span once, in order, each split across the pool's threads as a product splits
// its panels: in parts the threads take in turn (ThreadPool::parallel_for), so each streams
// about its share even when one starts late. Span after span, as a frame reads its matrices:
// a pass leaves the caches holding what a frame leaves there, and it is the faster order here
// (reading every span's first sixteenth, then every second one, ... took 5-15% longer over an
// STT-1B frame's weights, which flattered the frames' ratios to it). Returns ms.
double read_spans_once(const Spans& spans, ThreadPool& pool) {
  const int parts = 16 * pool.threads();
  std::vector<float> partial(parts, 0.0f);
  const double t0 = now_ms();
  for (const auto& span : spans) {
    const float* data = reinterpret_cast<const float*>(span.first);
    const uint64_t floats = span.second / 4;  // 64-bit: floats * part overflows a wasm32 size_t
    pool.parallel_for(parts, [&](int b, int e) {
      for (int part = b; part < e; ++part) {
        const size_t begin = size_t(floats * part / parts), end = size_t(floats * (part + 1) / parts);
        partial[part] += sum_floats(data + begin, end - begin);
      }
    });
  }
  const double ms = now_ms() - t0;
  float s = 0;
  for (float v : partial) s += v;
  g_sink = s;
  return ms;
}

// Median ms of 5 passes (after one untimed): the time to stream exactly those bytes from
// those pages.
double read_spans_ms(const Spans& spans, ThreadPool& pool) {
  return time_per_call(5, 1, [&] { read_spans_once(spans, pool); });
}

std::string json_line(const std::string& body) {
  return "{\"platform\": \"" + std::string(platform()) + "\", " + body + "}";
}

}  // namespace

std::string read_bandwidth(int megabytes, int threads) {
  const size_t n = size_t(megabytes) << 18;  // floats
  AlignedBuffer<float> buf(n);
  for (size_t i = 0; i < n; i += 1024) buf[i] = 1.0f;  // touch every page
  ThreadPool pool(threads);
  const double ms = read_spans_ms({{reinterpret_cast<const uint8_t*>(buf.data()), buf.bytes()}}, pool);
  char out[256];
  std::snprintf(out, sizeof out, "\"kind\": \"bandwidth\", \"megabytes\": %d, \"threads\": %d, \"gb_per_s\": %.3f",
                megabytes, pool.threads(), double(n) * 4 / (ms * 1e6));
  return json_line(out);
}

GemvBench::GemvBench(int k, int n, const std::string& format_name, bool cold, int threads)
    : k_(k),
      n_(n),
      format_name_(format_name),
      cold_(cold),
      x_(k),
      y_(n),
      xq_(k),
      yq_(n),
      pool_(std::make_unique<ThreadPool>(threads)) {
  Random rng(1);
  std::vector<float> w(size_t(n) * k);
  for (auto& v : w) v = float(2 * rng.uniform() - 1) / std::sqrt(float(k));
  for (auto& v : x_) v = float(2 * rng.uniform() - 1);
  const bool xnn = format_name.rfind("xnnpack", 0) == 0;
  WeightFormat format = WeightFormat::F32;
  if (!xnn && !parse_weight_format(format_name, &format)) {
    unavailable_ = json_line("\"kind\": \"error\", \"message\": \"unknown format\"");
    return;
  }
  std::vector<int8_t> wq;
  auto make = [&] {
    if (format_name == "xnnpack-qs8") {
      if (wq.empty()) {
        wq.resize(w.size());
        for (size_t i = 0; i < wq.size(); ++i) wq[i] = int8_t(std::lround(w[i] * 127 * std::sqrt(float(k))) % 128);
      }
      qs8_.push_back(make_xnnpack_qs8(n, k, wq.data()));
      bytes_per_copy_ = size_t(n) * k;
      return;
    }
    PackedMatrix m;
    if (xnn) {
      m.out = n;
      m.in = k;
      m.in_padded = k;
      m.native = make_xnnpack_f32(n, k, w.data(), threads);
    } else {
      m = pack_matrix_f32(format, n, k, w.data());
    }
    bytes_per_copy_ = m.bytes();
    copies_.push_back(std::move(m));
  };
  make();
  if (xnn && !copies_.empty() && !copies_[0].native) {
    unavailable_ = json_line("\"kind\": \"skip\", \"reason\": \"no XNNPACK\"");
    return;
  }
  const int count = cold ? std::max(2, int((size_t(1100) << 20) / bytes_per_copy_ + 1)) : 1;  // > 1.1 GB of weights
  for (int i = 1; i < count; ++i) {
    if (xnn) {
      make();  // native operators own their packed weights
      continue;
    }
    PackedMatrix copy;  // our own packing: duplicate the bytes, packing once is enough
    copy.out = n;
    copy.in = k;
    copy.in_padded = copies_[0].in_padded;
    copy.format = copies_[0].format;
    copy.q4_layout = copies_[0].q4_layout;  // the same kernel for every copy
    copy.data.resize(copies_[0].data.size());
    std::memcpy(copy.data.data(), copies_[0].data.data(), copy.data.bytes());
    copy.scales.resize(copies_[0].scales.size());
    if (!copy.scales.empty()) std::memcpy(copy.scales.data(), copies_[0].scales.data(), copy.scales.bytes());
    copies_.push_back(std::move(copy));
  }
}

GemvBench::~GemvBench() = default;

std::string GemvBench::time() {
  if (!unavailable_.empty()) return unavailable_;
  const size_t held = qs8_.empty() ? copies_.size() : qs8_.size();
  const int calls = cold_ ? int(held) : std::max(10, int((size_t(512) << 20) / bytes_per_copy_));
  double ms = time_per_call(5, calls, [&] {
    for (int c = 0; c < calls; ++c) {
      if (!qs8_.empty()) qs8_[c % qs8_.size()]->run(xq_.data(), yq_.data());
      else gemm(copies_[c % copies_.size()], x_.data(), 1, y_.data(), nullptr, pool_.get());
    }
  });
  // The same copies read where they lie, with the same threads: the rate this GEMV can be held
  // to, since other pages read 10-20% faster or slower here. XNNPACK's packed weights are out of
  // reach (-1).
  double read_gb_per_s = -1;
  if (qs8_.empty() && !copies_[0].native) {
    Spans spans;
    for (const auto& m : copies_) add_spans(m, spans);
    read_gb_per_s = double(bytes_per_copy_) * double(copies_.size()) / (read_spans_ms(spans, *pool_) * 1e6);
  }
  char out[360];
  std::snprintf(out, sizeof out,
                "\"kind\": \"gemv\", \"k\": %d, \"n\": %d, \"format\": \"%s\", \"cold\": %s, \"threads\": %d, "
                "\"ms\": %.4f, \"weight_bytes\": %zu, \"gb_per_s\": %.3f, \"read_gb_per_s\": %.3f",
                k_, n_, format_name_.c_str(), cold_ ? "true" : "false", pool_->threads(), ms, bytes_per_copy_,
                double(bytes_per_copy_) / (ms * 1e6), read_gb_per_s);
  return json_line(out);
}

std::string gemv(int k, int n, const std::string& format_name, bool cold, int threads) {
  return GemvBench(k, n, format_name, cold, threads).time();
}

namespace {

std::string shape_config(const std::string& shape) {
  if (shape == "stt-1b")  // Kyutai STT 1B (en/fr), from its released config.json
    return R"({"dim": 2048, "text_card": 8000, "existing_text_padding_id": 3, "n_q": 32, "dep_q": 0, "card": 2048,
               "num_heads": 16, "num_layers": 16, "hidden_scale": 4.125, "causal": true, "context": 750,
               "max_period": 100000, "gating": "silu", "norm": "rms_norm_f32", "positional_embedding": "rope",
               "depformer_dim": 1024, "depformer_num_heads": 16, "depformer_num_layers": 6,
               "depformer_multi_linear": true, "depformer_pos_emb": "none", "depformer_weights_per_step": true,
               "delays": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],
               "extra_heads_num_heads": 4, "extra_heads_dim": 6})";
  if (shape == "moshi-7b-2l")  // Moshi 7B's temporal transformer, 2 of its 32 layers, and its text head
    return R"({"dim": 4096, "text_card": 32000, "n_q": 1, "dep_q": 0, "card": 2048, "num_heads": 32,
               "num_layers": 2, "hidden_scale": 4.125, "context": 3000, "max_period": 10000, "gating": "silu",
               "norm": "rms_norm_f32", "positional_embedding": "rope", "delays": [0, 0]})";
  return "";
}

}  // namespace

constexpr int kWarmupFrames = 40;

std::string frame(const std::string& shape, const std::string& format_name, int threads, int frames) {
  std::string config_json = shape_config(shape);
  if (config_json.empty()) return json_line("\"kind\": \"error\", \"message\": \"unknown shape\"");
  LmConfig config = LmConfig::parse(config_json);
  LoadOptions options;
  options.threads = threads;
  // "<weights>+kv-bf16": the same with a bf16 KV cache.
  const size_t kv_suffix = format_name.find("+kv-bf16");
  const std::string weights = format_name.substr(0, kv_suffix);
  if (kv_suffix != std::string::npos) options.kv_cache = KvFormat::BF16;
  if (weights == "xnnpack-f32") {
    options.format = WeightFormat::F32;
  } else {
    WeightFormat f;
    if (!parse_weight_format(weights, &f)) return json_line("\"kind\": \"error\", \"message\": \"unknown format\"");
    options.format = f;
    options.use_xnnpack = false;
  }
  double convert_ms = 0;
  double t0 = now_ms();
  std::unique_ptr<LmModel> model;
  size_t peak = 0;
  try {
    LmLoader loader(config, options);
    generate_synthetic_lm(config, DType::BF16, 7, [&](const TensorInfo& t, const uint8_t* bytes) {
      double c0 = now_ms();
      loader.add_tensor(t, bytes);
      convert_ms += now_ms() - c0;
      peak = std::max(peak, heap_in_use());
    });
    model = loader.finish();
  } catch (const std::exception& e) {
    return json_line("\"kind\": \"frame\", \"shape\": \"" + shape + "\", \"format\": \"" + format_name +
                     "\", \"error\": \"" + std::string(e.what()) + "\"");
  }
  double load_ms = now_ms() - t0;
  Random rng(3);
  std::vector<int32_t> codes(config.n_q);
  auto step = [&](AsrSession& session) {
    for (auto& c : codes) c = int32_t(rng.next() % config.card);
    session.push_frame(codes.data(), int(codes.size()));
  };
  {
    // A throwaway stream first. V8 runs new WebAssembly code from its baseline compiler and
    // swaps in optimized code per function once that function has run enough; in Chromium
    // the frame's smaller functions took tens of frames to get there (q4, 2 threads: ~22 ms
    // per frame for the first 13 frames, ~19.5 ms with every function optimized up front).
    // The frames timed below then start a fresh stream with the code an app runs after its
    // first seconds.
    AsrSession warmup(*model);
    for (int i = 0; i < kWarmupFrames; ++i) step(warmup);
  }
  // The floor: reading the very bytes a frame streams, where they lie (pages placed at other
  // times read 10-20% faster or slower here), once after each timed frame. Paired this way the
  // frames and the floor see the same load on this shared host, which moves both by 20-50%
  // within minutes; a floor read after all the frames can land in a quieter or a busier spell
  // (a 2-thread frame once came out at 0.95x "its floor"). Natively prepared operators hold
  // their own copies, out of reach: those rows fall back to a separately measured bandwidth.
  Spans spans;
  bool own_weights = true;
  model->for_each_streamed_matrix([&](const PackedMatrix& m) {
    own_weights = own_weights && !m.native;
    add_spans(m, spans);
  });
  AsrSession session(*model);
  for (int i = 0; i < 3; ++i) step(session);
  if (own_weights) read_spans_once(spans, *model->pool());  // its code, too, starts optimized
  std::vector<double> samples, floor_samples;
  for (int i = 0; i < frames; ++i) {
    double f0 = now_ms();
    step(session);
    samples.push_back(now_ms() - f0);
    if (own_weights) floor_samples.push_back(read_spans_once(spans, *model->pool()));
  }
  // Steady state: after `context` frames every step attends over a full window. Fill the
  // caches directly (positions 0..context-1, small values) instead of running 750 frames.
  LmState state = model->new_state();
  for (auto& layer : state.transformer.layers) {
    std::vector<float> key(layer.d_head), value(layer.d_head);
    for (int s = 0; s < layer.capacity; ++s) {
      for (int h = 0; h < layer.kv_heads; ++h) {
        for (int i = 0; i < layer.d_head; ++i) {
          key[i] = 0.05f * float(2 * rng.uniform() - 1);
          value[i] = 0.05f * float(2 * rng.uniform() - 1);
        }
        layer.write(h, s, key.data(), value.data());
      }
      layer.positions[s] = s;
    }
    layer.end = layer.capacity;
  }
  state.transformer.offset = state.transformer.layers.empty() ? 0 : state.transformer.layers[0].capacity;
  std::vector<int32_t> tokens(config.num_codebooks());
  std::vector<float> tout(config.dim), logits(config.text_card_out);
  std::vector<double> full;
  for (int i = 0; i < frames + 2; ++i) {
    for (auto& t : tokens) t = int32_t(rng.next() % config.card);
    tokens[0] = int32_t(rng.next() % config.text_card);
    double f0 = now_ms();
    model->step(tokens.data(), state, tout.data(), logits.data());
    if (i >= 2) full.push_back(now_ms() - f0);
  }
  const double weights_read_ms = own_weights ? median(floor_samples) : -1;
  char out[704];
  std::snprintf(out, sizeof out,
                "\"kind\": \"frame\", \"shape\": \"%s\", \"format\": \"%s\", \"threads\": %d, \"frames\": %d, "
                "\"ms_per_frame\": %.3f, \"ms_per_frame_full_context\": %.3f, \"context\": %d, "
                "\"bytes_per_frame\": %zu, \"weights_read_ms\": %.3f, \"load_ms\": %.0f, \"convert_ms\": %.0f, "
                "\"heap_in_use\": %zu, \"heap_size\": %zu, \"peak_in_use\": %zu",
                shape.c_str(), format_name.c_str(), model->threads(), frames, median(samples), median(full),
                config.context.value_or(0), model->bytes_read_per_frame(), weights_read_ms, load_ms, convert_ms,
                heap_in_use(), heap_size(), peak);
  return json_line(out);
}

std::string quant_accuracy(const std::string& format_name, const std::string& distribution, int out, int in) {
  BlockFormat format;
  if (format_name == block_format_name(BlockFormat::Q8_0)) format = BlockFormat::Q8_0;
  else if (format_name == block_format_name(BlockFormat::Q4_K)) format = BlockFormat::Q4_K;
  else return json_line("\"kind\": \"error\", \"message\": \"unknown block format (Q8_0, Q4_K)\"");
  const WeightDistribution all[] = {WeightDistribution::Gauss, WeightDistribution::StudentT4,
                                    WeightDistribution::OutlierChannels};
  const WeightDistribution* d = std::find_if(std::begin(all), std::end(all), [&](WeightDistribution w) {
    return distribution == weight_distribution_name(w);
  });
  if (d == std::end(all)) return json_line("\"kind\": \"error\", \"message\": \"unknown distribution\"");
  if (out <= 0 || in <= 0) return json_line("\"kind\": \"error\", \"message\": \"empty shape\"");
  const QuantAccuracy engine = measure_quant_accuracy(format, *d, out, in);
  const QuantAccuracy ggml = measure_quant_accuracy(format, *d, out, in, QuantMethod::GgmlReference);
  const QuantAccuracy bound = quant_accuracy_bound(format, *d);
  // What a model converted to the matching weight format at load computes (q8 is Q8_0; q4 is Q4_K
  // with the load's shorter search; a converted file holds the engine's block quantizer's codes).
  const WeightFormat packed_format = format == BlockFormat::Q8_0 ? WeightFormat::Q8 : WeightFormat::Q4;
  const QuantAccuracy packed = measure_packed_accuracy(packed_format, *d, out, in, kQ4KLoadSearchSteps);
  char line[768];
  std::snprintf(line, sizeof line,
                "\"kind\": \"quant_accuracy\", \"format\": \"%s\", \"distribution\": \"%s\", \"out\": %d, "
                "\"in\": %d, \"weight_rmse\": %.5f, \"gemv_rmse\": %.5f, \"ggml_weight_rmse\": %.5f, "
                "\"ggml_gemv_rmse\": %.5f, \"issue_weight_rmse\": %.5f, \"issue_gemv_rmse\": %.5f, "
                "\"packed_format\": \"%s\", \"packed_weight_rmse\": %.5f, \"packed_gemv_rmse\": %.5f",
                format_name.c_str(), distribution.c_str(), out, in, engine.weight_rmse, engine.gemv_rmse,
                ggml.weight_rmse, ggml.gemv_rmse, bound.weight_rmse / 1.02, bound.gemv_rmse / 1.02,
                weight_format_name(packed_format), packed.weight_rmse, packed.gemv_rmse);
  return json_line(line);
}

}  // namespace kyutai::bench
