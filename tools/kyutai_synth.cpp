// Writes a synthetic LM checkpoint for any config: Kyutai's exact tensor names and shapes
// (split layout) filled with deterministic pseudo-random values (src/lm/synthetic_checkpoint.h),
// streamed tensor by tensor, so real-shape benchmark models need no download and little memory.
//
//   kyutai_synth --config config.json --out model.safetensors [--dtype f32|bf16|f16] [--seed 1]
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"
#include "lm/lm_config.h"
#include "lm/synthetic_checkpoint.h"

using namespace kyutai;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::InvalidArgument, "cannot open ", path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

int usage() {
  std::cerr << "usage: kyutai_synth --config config.json --out model.safetensors [--dtype f32|bf16|f16] [--seed N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, out_path, dtype_name = "f32";
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--config") config_path = argv[i + 1];
    else if (flag == "--out") out_path = argv[i + 1];
    else if (flag == "--dtype") dtype_name = argv[i + 1];
    else if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else return usage();
  }
  if (config_path.empty() || out_path.empty()) return usage();
  try {
    DType dtype;
    std::string upper;
    for (char c : dtype_name) upper += char(std::toupper(static_cast<unsigned char>(c)));
    if (!parse_dtype(upper, &dtype) || (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16))
      fail(ErrorCode::InvalidArgument, "--dtype must be f32, bf16 or f16, got '", dtype_name, "'");
    LmConfig config = LmConfig::parse(read_text(config_path), config_path);
    std::ofstream out(out_path, std::ios::binary);
    if (!out) fail(ErrorCode::InvalidArgument, "cannot write ", out_path);
    std::vector<uint8_t> header = safetensors_header_bytes(synthetic_lm_tensors(config, dtype));
    out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
    size_t bytes = header.size(), tensors = 0;
    generate_synthetic_lm(config, dtype, seed, [&](const TensorInfo& t, const uint8_t* b) {
      out.write(reinterpret_cast<const char*>(b), std::streamsize(t.byte_size()));
      bytes += t.byte_size();
      ++tensors;
    });
    out.close();
    if (!out) fail(ErrorCode::Internal, "writing ", out_path, " failed");
    std::cout << "{\"out\": \"" << out_path << "\", \"tensors\": " << tensors << ", \"bytes\": " << bytes
              << ", \"parameters\": " << config.parameter_count() << "}\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "kyutai_synth: " << e.what() << "\n";
    return 1;
  }
}
