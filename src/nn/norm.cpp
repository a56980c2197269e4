#include "nn/norm.h"

#include "kernels/ops.h"

namespace kyutai {

bool parse_norm_kind(const std::string& name, NormKind* out) {
  for (NormKind k : {NormKind::LayerNorm, NormKind::LayerNormF32, NormKind::RmsNorm, NormKind::RmsNormF32})
    if (name == norm_kind_name(k)) {
      *out = k;
      return true;
    }
  return false;
}

const char* norm_kind_name(NormKind kind) {
  switch (kind) {
    case NormKind::LayerNorm: return "layer_norm";
    case NormKind::LayerNormF32: return "layer_norm_f32";
    case NormKind::RmsNorm: return "rms_norm";
    case NormKind::RmsNormF32: return "rms_norm_f32";
  }
  return "?";
}

float norm_eps(NormKind kind) { return (kind == NormKind::LayerNorm || kind == NormKind::RmsNorm) ? 1e-5f : 1e-8f; }

void Norm::forward(const float* x, int rows, float* y) const {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * dim;
    float* yr = y + size_t(r) * dim;
    if (is_rms(kind)) rms_norm(xr, weight.data(), eps, dim, yr);
    else layer_norm(xr, weight.data(), bias.empty() ? nullptr : bias.data(), eps, dim, yr);
  }
}

}  // namespace kyutai
