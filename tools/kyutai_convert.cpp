// Converts a Kyutai LM checkpoint (f32/bf16/f16 safetensors, split or released attention
// layout) into one the library loads directly in its final format: q8 (Q8_0: int8 with an
// fp16 scale per 32 inputs), q4 (Q4_K, 4.5 bits per weight, with the full scale search) or
// bf16. The input is streamed tensor by tensor; the output is written tensor by tensor.
//
//   kyutai_convert --config config.json --weights model.safetensors --format q4 --out model.q4.safetensors
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "lm/lm_config.h"
#include "lm/lm_model.h"
#include "lm/quantized_export.h"
#include "read_file.h"

using namespace kyutai;

namespace {

int usage() {
  std::cerr << "usage: kyutai_convert --config config.json --weights model.safetensors --format q8|q4|bf16|f32 --out "
               "out.safetensors\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, weights_path, format_name, out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--config") config_path = argv[i + 1];
    else if (flag == "--weights") weights_path = argv[i + 1];
    else if (flag == "--format") format_name = argv[i + 1];
    else if (flag == "--out") out_path = argv[i + 1];
    else return usage();
  }
  if (config_path.empty() || weights_path.empty() || format_name.empty() || out_path.empty()) return usage();
  try {
    WeightFormat format;
    if (!parse_weight_format(format_name, &format))
      fail(ErrorCode::InvalidArgument, "unknown format '", format_name, "'");
    LmConfig config = LmConfig::parse(tools::read_file(config_path), config_path);
    LoadOptions options;
    options.format = format;
    options.use_xnnpack = false;
    options.q4_search_steps = quant::kQ4KSearchSteps;  // the full search: converting is done once
    LmLoader loader(config, options);
    auto stream = loader.stream();
    std::ifstream in(weights_path, std::ios::binary);
    if (!in) fail(ErrorCode::InvalidArgument, "cannot open ", weights_path);
    std::vector<char> chunk(1 << 22);
    while (in) {
      in.read(chunk.data(), chunk.size());
      if (in.gcount() > 0) stream->push(reinterpret_cast<const uint8_t*>(chunk.data()), size_t(in.gcount()));
    }
    stream->finish();
    auto model = loader.finish();
    std::ofstream out(out_path, std::ios::binary);
    size_t written = 0;
    export_weights(loader.weights(), {{"kyutai_wasm.format", format_name}}, [&](const uint8_t* p, size_t n) {
      out.write(reinterpret_cast<const char*>(p), std::streamsize(n));
      written += n;
    });
    if (!out) fail(ErrorCode::Internal, "writing ", out_path, " failed");
    std::printf("%s: %zu tensors, %.1f MB -> %s (%s, %.1f MB)\n", weights_path.c_str(), loader.tensors_loaded(),
                double(stream->bytes_received()) / 1e6, out_path.c_str(), format_name.c_str(), double(written) / 1e6);
  } catch (const Error& e) {
    std::fprintf(stderr, "kyutai_convert: %s\n", e.what());
    return 1;
  }
  return 0;
}
