// The normalisations Kyutai's configs can name (moshi.modules.transformer.create_norm_fn).
#pragma once

#include <string>
#include <vector>

namespace kyutai {

enum class NormKind { LayerNorm, LayerNormF32, RmsNorm, RmsNormF32 };

bool parse_norm_kind(const std::string& name, NormKind* out);
const char* norm_kind_name(NormKind kind);
// layer_norm 1e-5, layer_norm_f32 1e-8, rms_norm 1e-5, rms_norm_f32 1e-8.
float norm_eps(NormKind kind);
inline bool is_rms(NormKind kind) { return kind == NormKind::RmsNorm || kind == NormKind::RmsNormF32; }

struct Norm {
  NormKind kind = NormKind::RmsNormF32;
  float eps = 1e-8f;
  int dim = 0;
  std::vector<float> weight;  // RMSNorm alpha or LayerNorm gain
  std::vector<float> bias;    // LayerNorm only

  // y[rows, dim] = norm(x[rows, dim]); in-place allowed.
  void forward(const float* x, int rows, float* y) const;
};

}  // namespace kyutai
