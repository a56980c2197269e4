#include "bench_mimi.h"
#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#if defined(__GLIBC__) || defined(__EMSCRIPTEN__)
#include <malloc.h>
#endif
#if !defined(__EMSCRIPTEN__)
#include <time.h>
#endif

#include "codec/mimi.h"
#include "codec/mimi_cost.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"
#include "lm/sampling.h"
#include "lm/synthetic_checkpoint.h"

namespace kyutai::bench {

namespace {

constexpr double kPi = 3.14159265358979323846;

// CPU time of the calling thread (native only; < 0 where unavailable). On a shared machine
// the wall-clock median includes time other processes took; with one thread this does not.
double thread_cpu_ms() {
#if !defined(__EMSCRIPTEN__) && defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
#endif
  return -1;
}

// Feeds every tensor the model declares, generated one at a time (f32, Kyutai's Mimi dtype).
// Returns the number of parameters.
size_t load_synthetic(Mimi& mimi, const LoadOptions& options, uint64_t seed) {
  WeightLoader loader(options);
  mimi.declare_weights(loader);
  uint64_t parameters = 0;
  // f32: Kyutai's Mimi dtype.
  generate_synthetic(loader.expected(), DType::F32, seed, synthetic_codec_value_law,
                     [&](const TensorInfo& t, const uint8_t* bytes) {
                       loader.add(t, bytes);
                       parameters += t.numel();
                     });
  loader.finish();
  mimi.prepare();
  return parameters;
}

}  // namespace

std::string mimi_checkpoint(const std::string& path) {
  const MimiConfig config = MimiConfig::parse(released_mimi_config_json(), "released Mimi config");
  Mimi mimi(config, LoadOptions{});
  WeightLoader loader{LoadOptions{}};
  mimi.declare_weights(loader);
  std::vector<TensorInfo> tensors;
  std::vector<uint8_t> data;
  // The same tensors and values mimi_frame loads (synthetic_codec_value_law, seed 11).
  generate_synthetic(loader.expected(), DType::F32, 11, synthetic_codec_value_law,
                     [&](const TensorInfo& t, const uint8_t* bytes) {
                       tensors.push_back(t);
                       data.insert(data.end(), bytes, bytes + t.byte_size());
                     });
  const std::vector<uint8_t> header = safetensors_header_bytes(tensors);
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return "{\"kind\": \"mimi_checkpoint\", \"error\": \"cannot write " + tmp + "\"}";
  const bool written = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
                       std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !written || std::rename(tmp.c_str(), path.c_str()) != 0)
    return "{\"kind\": \"mimi_checkpoint\", \"error\": \"cannot write " + path + "\"}";
  return "{\"kind\": \"mimi_checkpoint\", \"path\": \"" + path + "\", \"tensors\": " + std::to_string(tensors.size()) +
         ", \"bytes\": " + std::to_string(header.size() + data.size()) +
         ", \"config\": " + std::string(released_mimi_config_json()) + "}";
}

std::string mimi_frame(int threads, int frames) {
  auto error = [](const std::string& message) {
    return std::string("{\"platform\": \"") + platform() + "\", \"kind\": \"mimi\", \"error\": \"" + message + "\"}";
  };
  if (threads < 1 || frames < 1) return error("threads and frames must be >= 1");
  LoadOptions options;
  options.threads = threads;
  options.use_xnnpack = false;  // the same kernels natively as in WebAssembly
  double t0 = now_ms();
  std::unique_ptr<Mimi> mimi;
  size_t parameters = 0;
  try {
    mimi = std::make_unique<Mimi>(MimiConfig::parse(released_mimi_config_json(), "released Mimi config"), options);
    parameters = load_synthetic(*mimi, options, 11);
  } catch (const std::exception& e) {
    return error(e.what());
  }
  const double load_ms = now_ms() - t0;

  const int fs = mimi->frame_size();
  const int codebooks = mimi->num_codebooks();
  MimiState state = mimi->new_state(codebooks);
  std::vector<float> frame(fs), out(fs);
  std::vector<int32_t> codes(codebooks);
  // Speech-like input: two drifting tones plus noise, a different frame every step.
  Random rng(5);
  size_t sample = 0;
  auto next_frame = [&] {
    for (int i = 0; i < fs; ++i, ++sample) {
      const double t = double(sample) / 24000.0;
      frame[i] = float(0.3 * std::sin(2 * kPi * (180 + 40 * std::sin(3 * t)) * t) + 0.1 * std::sin(2 * kPi * 1250 * t) +
                       0.02 * (2 * rng.uniform() - 1));
    }
  };
  int distinct = 0;  // codes of the semantic codebook that changed from the previous frame
  int32_t last = -1;
  std::vector<double> enc, dec, enc_cpu, dec_cpu;
  const int warmup = 3;
  for (int i = 0; i < warmup + frames; ++i) {
    next_frame();
    const double a = now_ms(), ca = thread_cpu_ms();
    mimi->encode_step(frame.data(), state, codes.data());
    const double b = now_ms(), cb = thread_cpu_ms();
    mimi->decode_step(codes.data(), state, out.data());
    const double c = now_ms(), cc = thread_cpu_ms();
    if (codes[0] != last) ++distinct;
    last = codes[0];
    if (i >= warmup) {
      enc.push_back(b - a);
      dec.push_back(c - b);
      enc_cpu.push_back(cb - ca);
      dec_cpu.push_back(cc - cb);
    }
  }
  double peak = 0;
  for (float v : out) peak = std::max(peak, double(std::fabs(v)));
  const double frame_ms = 1000.0 / mimi->frame_rate();
  // Multiply-adds of the middle timed frame (attention grows with the stream until its window is full);
  // weight bytes as Mimi reads them (f32, its checkpoint dtype; half for the RVQ search).
  const MimiFrameCost cost = mimi_frame_cost(mimi->config(), warmup + frames / 2);
  const double e = median(enc), d = median(dec);
  // The fastest frame: what a frame costs when no other process takes the cores.
  const double e_min = *std::min_element(enc.begin(), enc.end()), d_min = *std::min_element(dec.begin(), dec.end());
  // Caller-thread CPU ms per frame: the whole cost with one thread; -1 when not measurable
  // (WebAssembly) or not the whole cost (workers add theirs).
  const bool cpu = thread_cpu_ms() >= 0 && mimi->pool()->threads() == 1;
  const double ec = cpu ? median(enc_cpu) : -1, dc = cpu ? median(dec_cpu) : -1;
  char line[1024];
  std::snprintf(line, sizeof line,
                "{\"platform\": \"%s\", \"kind\": \"mimi\", \"shape\": \"mimi-released\", \"threads\": %d, "
                "\"frames\": %d, \"codebooks\": %d, \"encode_ms_per_frame\": %.3f, \"decode_ms_per_frame\": %.3f, "
                "\"ms_per_frame\": %.3f, \"rtf\": %.4f, \"encode_rtf\": %.4f, \"decode_rtf\": %.4f, "
                "\"encode_ms_min\": %.3f, \"decode_ms_min\": %.3f, "
                "\"encode_cpu_ms_per_frame\": %.3f, \"decode_cpu_ms_per_frame\": %.3f, \"parameters\": %zu, "
                "\"load_ms\": %.0f, \"heap_in_use\": %zu, \"changed_semantic_codes\": %d, \"output_peak\": %.4g, "
                "\"encode_macs\": %lld, \"decode_macs\": %lld, \"encode_weight_bytes\": %lld, "
                "\"decode_weight_bytes\": %lld, ",
                platform(), mimi->pool()->threads(), frames, codebooks, e, d, e + d, (e + d) / frame_ms, e / frame_ms,
                d / frame_ms, e_min, d_min, ec, dc, parameters, load_ms, heap_in_use(), distinct, peak,
                (long long)cost.encode_macs(), (long long)cost.decode_macs(), (long long)cost.encode_weight_bytes(),
                (long long)cost.decode_weight_bytes());
  // Per layer, [multiply-adds, weight bytes]: the report's roofline floor takes each layer's
  // slower limit, arithmetic or reading its weights (bench/mimi.mjs).
  auto layers = [](const std::vector<MimiLayerCost>& part) {
    std::string out = "[";
    for (const MimiLayerCost& l : part)
      out += (out.size() > 1 ? ", [" : "[") + std::to_string(l.macs) + ", " + std::to_string(l.weight_bytes()) + "]";
    return out + "]";
  };
  return line + std::string("\"encode_layers\": ") + layers(cost.encode) +
         ", \"decode_layers\": " + layers(cost.decode) + "}";
}

namespace {

std::vector<float> random_values(size_t n, float scale, Random& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = float(scale * (2 * rng.uniform() - 1));
  return v;
}

// Median ms of one frame's step of a layer, streamed from a fresh state: `step` runs it once.
template <typename Step>
double time_steps(int frames, Step step) {
  for (int i = 0; i < 3; ++i) step();  // warm-up (and V8's optimizing tier)
  std::vector<double> samples;
  for (int i = 0; i < frames; ++i) {
    const double t0 = now_ms();
    step();
    samples.push_back(now_ms() - t0);
  }
  return median(samples);
}

// One convolution of the list, through the layer class Mimi runs, with random weights.
double time_conv_layer(const MimiLayerCost& l, int frames, ThreadPool& pool, Random& rng) {
  ConvShape s;
  s.in_channels = l.in_channels;
  s.out_channels = l.out_channels;
  s.kernel = l.kernel;
  s.stride = l.stride;
  s.dilation = l.dilation;
  s.groups = l.groups;
  const std::vector<float> x = random_values(size_t(l.rows) * l.in_channels, 1.0f, rng);
  const float scale = 1.0f / std::sqrt(float(l.in_channels / l.groups * l.kernel));
  if (l.op == MimiLayerCost::Op::Conv1d) {
    Conv1d conv(s, /*bias=*/false, PadMode::Constant, l.name);
    conv.set_weights(random_values(size_t(l.out_channels) * s.in_per_group() * l.kernel, scale, rng), {});
    Conv1dState state = conv.new_state();
    std::vector<float> y(size_t(conv.output_rows(l.rows)) * l.out_channels);
    return time_steps(frames, [&] { conv.forward(x.data(), l.rows, state, y.data(), &pool); });
  }
  ConvTranspose1d conv(s, /*bias=*/false, l.name);
  conv.set_weights(random_values(size_t(l.in_channels) * s.out_per_group() * l.kernel, scale, rng), {});
  ConvTranspose1dState state = conv.new_state();
  std::vector<float> y(size_t(l.rows) * l.stride * l.out_channels);
  return time_steps(frames, [&] { conv.forward(x.data(), l.rows, state, y.data(), &pool); });
}

}  // namespace

std::string mimi_layers(int threads, int frames) {
  if (threads < 1 || frames < 1)
    return std::string("{\"platform\": \"") + platform() +
           "\", \"kind\": \"mimi_layers\", \"error\": \"threads and frames must be >= 1\"}";
  const MimiConfig config = MimiConfig::parse(released_mimi_config_json(), "released Mimi config");
  const MimiFrameCost cost = mimi_frame_cost(config, 0);
  ThreadPool pool(threads);
  Random rng(17);
  std::string out = std::string("{\"platform\": \"") + platform() +
                    "\", \"kind\": \"mimi_layers\", \"threads\": " + std::to_string(threads) +
                    ", \"frames\": " + std::to_string(frames) + ", \"layers\": [";
  bool first = true;
  for (const auto& [part, layers] : {std::make_pair("encode", &cost.encode), std::make_pair("decode", &cost.decode)}) {
    for (const MimiLayerCost& l : *layers) {
      if (l.op != MimiLayerCost::Op::Conv1d && l.op != MimiLayerCost::Op::ConvTranspose1d) continue;
      const double ms = time_conv_layer(l, frames, pool, rng);
      const int context = l.op == MimiLayerCost::Op::Conv1d ? (l.kernel - 1) * l.dilation + 1 - l.stride : 0;
      char row[512];
      std::snprintf(row, sizeof row,
                    "%s{\"part\": \"%s\", \"name\": \"%s\", \"op\": \"%s\", \"in\": %d, \"out\": %d, \"kernel\": %d, "
                    "\"stride\": %d, \"dilation\": %d, \"groups\": %d, \"rows\": %d, \"context\": %d, \"macs\": %lld, "
                    "\"ms\": %.4f}",
                    first ? "" : ", ", part, l.name.c_str(), mimi_op_name(l.op), l.in_channels, l.out_channels,
                    l.kernel, l.stride, l.dilation, l.groups, l.rows, context, (long long)l.macs, ms);
      out += row;
      first = false;
    }
  }
  char totals[160];
  std::snprintf(totals, sizeof totals, "], \"encode_macs\": %lld, \"decode_macs\": %lld}",
                (long long)cost.encode_macs(), (long long)cost.decode_macs());
  return out + totals;
}

}  // namespace kyutai::bench
