#include "lm/synthetic_checkpoint.h"

#include <cmath>
#include <cstring>

#include "lm/lm_model.h"
#include "lm/sampling.h"

namespace kyutai {

namespace {

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Value = offset + scale * u with u uniform of unit variance.
void value_law(const WeightLoader::Expected& e, float* offset, float* scale) {
  *offset = 0;
  switch (e.kind) {
    case WeightLoader::Kind::Linear: *scale = 1.0f / std::sqrt(float(e.shape[1])); return;
    case WeightLoader::Kind::Table: *scale = 0.25f; return;
    case WeightLoader::Kind::Vector:
      if (ends_with(e.name, ".bias")) *scale = 0.1f;
      else if (ends_with(e.name, ".scale")) {
        *offset = 0.3f;
        *scale = 0.1f;
      } else {
        *offset = 1.0f;
        *scale = 0.2f;
      }  // norm gains
      return;
  }
}

std::vector<WeightLoader::Expected> specs(const LmConfig& config) {
  LoadOptions options;
  options.use_xnnpack = false;
  return LmLoader(config, options).expected();
}

}  // namespace

std::vector<TensorInfo> synthetic_lm_tensors(const LmConfig& config, DType dtype) {
  std::vector<TensorInfo> out;
  uint64_t offset = 0;
  for (const auto& e : specs(config)) {
    TensorInfo t;
    t.name = e.name;
    t.dtype = dtype;
    t.shape = e.shape;
    t.begin = offset;
    t.end = offset + t.numel() * dtype_size(dtype);
    offset = t.end;
    out.push_back(std::move(t));
  }
  return out;
}

void generate_synthetic(const std::vector<WeightLoader::Expected>& tensors, DType dtype, uint64_t seed,
                        const ValueLaw& law, const TensorSink& sink) {
  std::vector<uint8_t> bytes;
  uint64_t position = 0;
  for (const WeightLoader::Expected& e : tensors) {
    TensorInfo t;
    t.name = e.name;
    t.dtype = dtype;
    t.shape = e.shape;
    t.begin = position;
    t.end = position + t.numel() * dtype_size(dtype);
    position = t.end;
    float offset, scale;
    law(e, &offset, &scale);
    Random rng(seed ^ hash_name(t.name));
    const size_t n = t.numel();
    bytes.resize(n * dtype_size(dtype));
    const float k = scale * 1.7320508f;  // uniform on [-sqrt 3, sqrt 3] has unit variance
    for (size_t j = 0; j < n; ++j) {
      float v = offset + k * float(2.0 * rng.uniform() - 1.0);
      if (dtype == DType::F32) std::memcpy(bytes.data() + 4 * j, &v, 4);
      else if (dtype == DType::BF16) {
        uint16_t b = f32_to_bf16(v);
        std::memcpy(bytes.data() + 2 * j, &b, 2);
      } else {
        uint16_t h = f32_to_f16(v);
        std::memcpy(bytes.data() + 2 * j, &h, 2);
      }
    }
    sink(t, bytes.data());
  }
}

void generate_synthetic_lm(const LmConfig& config, DType dtype, uint64_t seed, const TensorSink& sink) {
  generate_synthetic(specs(config), dtype, seed, value_law, sink);
}

std::vector<uint8_t> synthetic_lm_safetensors(const LmConfig& config, DType dtype, uint64_t seed) {
  std::vector<uint8_t> out = safetensors_header_bytes(synthetic_lm_tensors(config, dtype));
  generate_synthetic_lm(config, dtype, seed,
                        [&](const TensorInfo& t, const uint8_t* b) { out.insert(out.end(), b, b + t.byte_size()); });
  return out;
}

}  // namespace kyutai
