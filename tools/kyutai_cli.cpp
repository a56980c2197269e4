// Native command line for inspecting checkpoints.
//
//   kyutai_cli embed CONFIG WEIGHTS [T]     fused input embeddings of a deterministic token
//                                           sequence of T steps: shape, per-step norms, values
//   kyutai_cli footprint CONFIG WEIGHTS     memory each weight format needs (header only)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "lm/footprint.h"
#include "lm/lm_model.h"
#include "read_file.h"

using namespace kyutai;

namespace {

int embed(const std::string& config_path, const std::string& weights_path, int T) {
  LmConfig c = LmConfig::parse(tools::read_file(config_path), config_path);
  const std::string bytes = tools::read_file(weights_path);
  auto model = load_lm(c, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  MultistreamInput in;
  in.text = TokenTensor(1, T);
  for (int t = 0; t < T; ++t) in.text->at(0, t) = (t * 7 + 1) % c.text_card;
  for (int q = 0; q < c.n_q; ++q) {
    TokenTensor a(1, T);
    for (int t = 0; t < T; ++t) a.at(0, t) = (t * 3 + q * 5) % c.card;
    in.audio.push_back(a);
  }
  std::vector<float> x = model->audio_processing().embedding_sum(in, model->pool());
  std::printf("%s: dim %d, %d audio codebooks of %d, text vocabulary %d\n", weights_path.c_str(), c.dim, c.n_q, c.card,
              c.text_card);
  std::printf("fused embeddings (sum of %d audio tables + text), shape [1, %d, %d]\n", c.n_q, T, c.dim);
  for (int t = 0; t < T; ++t) {
    const float* row = x.data() + size_t(t) * c.dim;
    double norm = 0;
    for (int i = 0; i < c.dim; ++i) norm += double(row[i]) * row[i];
    std::printf("  t=%2d text=%4d |x|=%.4f  x[0..3]=%.4f %.4f %.4f %.4f\n", t, in.text->at(0, t), std::sqrt(norm),
                row[0], row[1], row[2], row[3]);
  }
  return 0;
}

int footprint(const std::string& config_path, const std::string& weights_path) {
  LmConfig c = LmConfig::parse(tools::read_file(config_path), config_path);
  // Only the header is read.
  std::ifstream f(weights_path, std::ios::binary);
  if (!f) fail(ErrorCode::InvalidArgument, "cannot open ", weights_path);
  std::vector<uint8_t> head(8);
  f.read(reinterpret_cast<char*>(head.data()), 8);
  uint64_t n = read_safetensors_header_length(head.data(), size_t(f.gcount()), 0);
  head.resize(8 + n);
  f.read(reinterpret_cast<char*>(head.data() + 8), std::streamsize(n));
  SafetensorsHeader h = parse_safetensors_header(head.data(), size_t(8 + f.gcount()), 0);
  std::printf("%s: %zu tensors, %.1f MB of data\n", weights_path.c_str(), h.tensors.size(), double(h.data_bytes) / 1e6);
  for (auto f : {std::optional<WeightFormat>(), std::optional(WeightFormat::F32), std::optional(WeightFormat::BF16),
                 std::optional(WeightFormat::Q8), std::optional(WeightFormat::Q4)}) {
    LmFootprint fp = estimate_lm_footprint(c, h, f);
    std::printf("  %-20s weights %8.1f MiB  KV cache %7.1f MiB  load buffer %6.1f MiB  total %8.1f MiB\n",
                f ? weight_format_name(*f) : "as stored", double(fp.weights) / (1 << 20),
                double(fp.kv_cache) / (1 << 20), double(fp.load_buffer) / (1 << 20), double(fp.total()) / (1 << 20));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "embed" && (argc == 4 || argc == 5)) return embed(argv[2], argv[3], argc == 5 ? std::atoi(argv[4]) : 10);
    if (cmd == "footprint" && argc == 4) return footprint(argv[2], argv[3]);
  } catch (const Error& e) {
    std::fprintf(stderr, "kyutai_cli: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: kyutai_cli embed CONFIG WEIGHTS [T] | kyutai_cli footprint CONFIG WEIGHTS\n");
  return 2;
}
