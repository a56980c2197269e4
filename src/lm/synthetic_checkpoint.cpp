#include "lm/synthetic_checkpoint.h"

#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"
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

}  // namespace

std::vector<WeightLoader::Expected> synthetic_lm_specs(const LmConfig& config) {
  LoadOptions options;
  options.use_xnnpack = false;
  std::vector<WeightLoader::Expected> out;
  std::set<std::string> merged;
  // The loader also accepts q, k, v of a cross-attention as three tensors; Kyutai's state dict
  // holds them as one [3D, D] "in_projs.0.weight", which is what a checkpoint must have.
  for (const WeightLoader::Expected& e : LmLoader(config, options).expected()) {
    const size_t at = e.name.rfind("cross_attention.in_projs.0.");
    if (at == std::string::npos) {
      out.push_back(e);
      continue;
    }
    const std::string name = e.name.substr(0, at) + "cross_attention.in_projs.0.weight";
    if (merged.insert(name).second) out.push_back({name, {3 * e.shape[0], e.shape[1]}, WeightLoader::Kind::Linear});
  }
  // Kyutai's demuxed Depformer text embedding keeps a low-rank projection it never uses (the
  // loader ignores it); its state dict, so a checkpoint, still has it.
  const int low_rank = config.depformer_low_rank_embeddings.value_or(0);
  if (config.dep_q > 0 && config.demux_second_stream && low_rank)
    out.push_back({"depformer_text_emb.low_rank.weight", {config.depformer_dim, low_rank}, WeightLoader::Kind::Linear});
  return out;
}

void synthetic_lm_value_law(const WeightLoader::Expected& e, float* offset, float* scale) {
  *offset = 0;
  switch (e.kind) {
    case WeightLoader::Kind::Linear: *scale = 1.0f / std::sqrt(float(e.shape[1])); return;
    case WeightLoader::Kind::Table: *scale = 0.25f; return;
    case WeightLoader::Kind::Vector:
      if (ends_with(e.name, ".bias") || ends_with(e.name, ".learnt_padding")) *scale = 0.1f;
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

std::vector<TensorInfo> synthetic_tensor_infos(const std::vector<WeightLoader::Expected>& tensors, DType dtype) {
  std::vector<TensorInfo> out;
  uint64_t offset = 0;
  for (const auto& e : tensors) {
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

std::vector<TensorInfo> synthetic_lm_tensors(const LmConfig& config, DType dtype) {
  return synthetic_tensor_infos(synthetic_lm_specs(config), dtype);
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
  generate_synthetic(synthetic_lm_specs(config), dtype, seed, synthetic_lm_value_law, sink);
}

std::vector<uint8_t> synthetic_lm_safetensors(const LmConfig& config, DType dtype, uint64_t seed) {
  std::vector<uint8_t> out = safetensors_header_bytes(synthetic_lm_tensors(config, dtype));
  generate_synthetic_lm(config, dtype, seed,
                        [&](const TensorInfo& t, const uint8_t* b) { out.insert(out.end(), b, b + t.byte_size()); });
  return out;
}

void synthetic_codec_value_law(const WeightLoader::Expected& e, float* offset, float* scale) {
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

WeightLoader::Expected synthetic_voice_tensor(const LmConfig& config, int frames) {
  const ConditionerConfig* speaker = config.conditioner("speaker_wavs");
  if (!speaker || speaker->kind != ConditionerKind::Tensor)
    fail(ErrorCode::InvalidArgument, "this config has no speaker_wavs tensor conditioner: it takes no voice");
  if (frames < 1 || frames > (1 << 20))
    fail(ErrorCode::InvalidArgument, "a voice needs 1 to 1048576 frames, got ", frames);
  return {"speaker_wavs", {1, speaker->dim, frames}, WeightLoader::Kind::Vector};
}

void synthetic_voice_value_law(const WeightLoader::Expected&, float* offset, float* scale) {
  *offset = 0;
  *scale = 1;
}

}  // namespace kyutai
