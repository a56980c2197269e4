#include "bench_mimi.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__GLIBC__) || defined(__EMSCRIPTEN__)
#include <malloc.h>
#endif
#if !defined(__EMSCRIPTEN__)
#include <time.h>
#endif

#include "codec/mimi.h"
#include "lm/sampling.h"

namespace kyutai::bench {

namespace {

// The released Mimi, key for key as moshi/models/loaders.py writes _seanet_kwargs,
// _quantizer_kwargs and _transformer_kwargs (n_q 32: the checkpoint's codebooks).
constexpr const char* kReleasedMimi = R"({
  "sample_rate": 24000, "channels": 1, "frame_rate": 12.5,
  "seanet": {"channels": 1, "dimension": 512, "causal": true, "n_filters": 64, "n_residual_layers": 1,
             "activation": "ELU", "compress": 2, "dilation_base": 2, "disable_norm_outer_blocks": 0,
             "kernel_size": 7, "residual_kernel_size": 3, "last_kernel_size": 3, "norm": "none",
             "pad_mode": "constant", "ratios": [8, 6, 5, 4], "true_skip": true},
  "quantizer": {"dimension": 256, "n_q": 32, "bins": 2048, "input_dimension": 512, "output_dimension": 512},
  "transformer": {"d_model": 512, "num_heads": 8, "num_layers": 8, "causal": true, "layer_scale": 0.01,
                  "context": 250, "conv_layout": true, "max_period": 10000, "gating": "none",
                  "norm": "layer_norm", "positional_embedding": "rope", "dim_feedforward": 2048,
                  "input_dimension": 512, "output_dimensions": [512]}
})";

constexpr double kPi = 3.14159265358979323846;

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread (native only; < 0 where unavailable). On a shared machine
// the wall-clock median includes time other processes took; with one thread this does not.
double thread_cpu_ms() {
#if !defined(__EMSCRIPTEN__) && defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
#endif
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

size_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().uordblks;
#elif defined(__EMSCRIPTEN__)
  return size_t(mallinfo().uordblks);
#else
  return 0;
#endif
}

const char* platform() {
#if defined(__EMSCRIPTEN_PTHREADS__)
  return "wasm-simd128-threads";
#elif defined(__wasm_simd128__)
  return "wasm-simd128";
#else
  return "native";
#endif
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Value law of a synthetic tensor, as src/lm/synthetic_checkpoint.cpp does for the LM:
// offset + scale * u with u uniform of unit variance, the scale keeping activations of order
// one through the 30-odd layers (weights 1/sqrt(fan in)), so the timing runs on ordinary
// floats (no denormals, no infinities) as with real weights.
void value_law(const WeightLoader::Expected& e, float* offset, float* scale) {
  *offset = 0;
  *scale = 0.1f;
  const std::string& n = e.name;
  if (e.kind == WeightLoader::Kind::Linear) {
    *scale = 1.0f / std::sqrt(float(e.shape[1]));
  } else if (ends_with(n, "cluster_usage") || ends_with(n, "_initialized")) {
    *offset = 1.0f;  // positive usage: centroid = embedding_sum / usage
    *scale = 0.1f;
  } else if (ends_with(n, "embedding_sum")) {
    *scale = 0.5f;
  } else if (ends_with(n, ".scale")) {
    *offset = 0.01f;  // layer_scale 0.01, as the config's init
    *scale = 0.002f;
  } else if (ends_with(n, ".bias")) {
    *scale = 0.02f;
  } else if (e.shape.size() >= 2) {  // convolution weights [out, in / groups, kernel]
    int64_t fan_in = 1;
    for (size_t i = 1; i < e.shape.size(); ++i) fan_in *= e.shape[i];
    *scale = 1.0f / std::sqrt(float(fan_in));
  } else {  // norm gains
    *offset = 1.0f;
    *scale = 0.1f;
  }
}

// Feeds every tensor the model declares, generated one at a time (f32, Kyutai's Mimi dtype).
// Returns the number of parameters.
size_t load_synthetic(Mimi& mimi, const LoadOptions& options, uint64_t seed) {
  WeightLoader loader(options);
  mimi.declare_weights(loader);
  std::vector<float> values;
  uint64_t offset = 0;
  for (const WeightLoader::Expected& e : loader.expected()) {
    TensorInfo t;
    t.name = e.name;
    t.dtype = DType::F32;
    t.shape = e.shape;
    t.begin = offset;
    t.end = offset + t.numel() * 4;
    offset = t.end;
    float base, scale;
    value_law(e, &base, &scale);
    Random rng(seed ^ hash_name(e.name));
    values.resize(t.numel());
    const float k = scale * 1.7320508f;  // uniform on [-sqrt 3, sqrt 3] has unit variance
    for (float& v : values) v = base + k * float(2.0 * rng.uniform() - 1.0);
    loader.add(t, reinterpret_cast<const uint8_t*>(values.data()));
  }
  loader.finish();
  mimi.prepare();
  return offset / 4;
}

}  // namespace

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
    mimi = std::make_unique<Mimi>(MimiConfig::parse(kReleasedMimi, "released Mimi config"), options);
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
  const double e = median(enc), d = median(dec);
  // The fastest frame: what a frame costs when no other process takes the cores.
  const double e_min = *std::min_element(enc.begin(), enc.end()), d_min = *std::min_element(dec.begin(), dec.end());
  // Caller-thread CPU ms per frame: the whole cost with one thread; -1 when not measurable
  // (WebAssembly) or not the whole cost (workers add theirs).
  const bool cpu = thread_cpu_ms() >= 0 && mimi->pool()->threads() == 1;
  const double ec = cpu ? median(enc_cpu) : -1, dc = cpu ? median(dec_cpu) : -1;
  char line[896];
  std::snprintf(line, sizeof line,
                "{\"platform\": \"%s\", \"kind\": \"mimi\", \"shape\": \"mimi-released\", \"threads\": %d, "
                "\"frames\": %d, \"codebooks\": %d, \"encode_ms_per_frame\": %.3f, \"decode_ms_per_frame\": %.3f, "
                "\"ms_per_frame\": %.3f, \"rtf\": %.4f, \"encode_rtf\": %.4f, \"decode_rtf\": %.4f, "
                "\"encode_ms_min\": %.3f, \"decode_ms_min\": %.3f, "
                "\"encode_cpu_ms_per_frame\": %.3f, \"decode_cpu_ms_per_frame\": %.3f, \"parameters\": %zu, "
                "\"load_ms\": %.0f, \"heap_in_use\": %zu, \"changed_semantic_codes\": %d, \"output_peak\": %.4g}",
                platform(), mimi->pool()->threads(), frames, codebooks, e, d, e + d, (e + d) / frame_ms,
                e / frame_ms, d / frame_ms, e_min, d_min, ec, dc, parameters, load_ms, heap_in_use(), distinct, peak);
  return line;
}

}  // namespace kyutai::bench
