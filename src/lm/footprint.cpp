#include "lm/footprint.h"

#include <algorithm>

#include "core/error.h"
#include "lm/lm_model.h"

namespace kyutai {

namespace {

uint64_t packed_bytes(WeightFormat f, int64_t out, int64_t in) {
  const int64_t rows = (out + kPanel - 1) / kPanel * kPanel;
  switch (f) {
    case WeightFormat::F32: return uint64_t(rows * in * 4);
    case WeightFormat::BF16: return uint64_t(rows * in * 2);
    case WeightFormat::Q8:
    case WeightFormat::Q4: {  // values, and per (row, block of 32) an f32 scale (q4: and min)
      const int64_t blocks = (in + kQuantBlock - 1) / kQuantBlock;
      const int64_t block_bytes = f == WeightFormat::Q8 ? kQuantBlock + 4 : kQuantBlock / 2 + 8;
      return uint64_t(rows * blocks * block_bytes);
    }
  }
  return 0;
}

// The precision of a tensor the header holds under another name (the split parts of a
// concatenated set, e.g. cross_attention.in_projs.0's q|k|v): that of its largest float tensor.
DType checkpoint_float_dtype(const SafetensorsHeader& header) {
  const TensorInfo* largest = nullptr;
  for (const auto& t : header.tensors)
    if ((t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16) &&
        (!largest || t.byte_size() > largest->byte_size()))
      largest = &t;
  return largest ? largest->dtype : DType::BF16;
}

uint64_t cross_attention_bytes(const LmConfig& config) {
  if (!config.cross_attention) return 0;
  const uint64_t positions = uint64_t(config.tts_config ? config.tts_config->max_speakers : 5) * kVoiceFrames;
  const uint64_t streams = config.conditioner("cfg") ? 1 : 2;
  // Per stream and position: the source row, then a key and a value row in every layer (f32),
  // and the position (int64).
  return streams * positions * (uint64_t(config.dim) * (1 + 2 * uint64_t(config.num_layers)) * 4 + 8);
}

std::string mib(uint64_t bytes) { return str_cat(bytes / (1u << 20), " MiB"); }

}  // namespace

LmFootprint estimate_lm_footprint(const LmConfig& config, const SafetensorsHeader& header,
                                  std::optional<WeightFormat> format, KvFormat kv_format) {
  LoadOptions options;
  options.use_xnnpack = false;
  LmFootprint fp;
  const DType float_dtype = checkpoint_float_dtype(header);
  for (const auto& e : LmLoader(config, options).expected()) {
    const TensorInfo* t = header.find(e.name);
    const DType source = t ? t->dtype : float_dtype;
    uint64_t numel = 1;
    for (int64_t d : e.shape) numel *= uint64_t(d);
    switch (e.kind) {
      case WeightLoader::Kind::Linear: {
        WeightFormat f = format ? *format : (source == DType::BF16 ? WeightFormat::BF16 : WeightFormat::F32);
        if (source == DType::I8) f = WeightFormat::Q8;
        if (source == DType::U8) f = WeightFormat::Q4;
        fp.weights += packed_bytes(f, e.shape[0], e.shape[1]);
        break;
      }
      case WeightLoader::Kind::Table: {
        const bool f32 = source != DType::BF16 && !(format && *format == WeightFormat::BF16);
        fp.weights += numel * (f32 ? 4 : 2);
        break;
      }
      case WeightLoader::Kind::Vector: fp.weights += numel * 4; break;
    }
  }
  for (const auto& t : header.tensors) fp.load_buffer = std::max<uint64_t>(fp.load_buffer, t.byte_size());
  const TransformerConfig tc = config.main_transformer();
  fp.kv_cache = uint64_t(config.num_layers) * uint64_t(config.context.value_or(0)) * tc.num_kv_heads() * tc.head_dim() *
                2 * kv_value_bytes(kv_format);
  fp.cross_attention = cross_attention_bytes(config);
  return fp;
}

void check_lm_fits(const LmConfig& config, const SafetensorsHeader& header, std::optional<WeightFormat> format,
                   uint64_t available_bytes, KvFormat kv_format) {
  const LmFootprint fp = estimate_lm_footprint(config, header, format, kv_format);
  if (fp.total() <= available_bytes) return;
  std::string alternative = "no weight format fits (even q4)";
  for (WeightFormat f : {WeightFormat::BF16, WeightFormat::Q8, WeightFormat::Q4}) {
    const LmFootprint alt = estimate_lm_footprint(config, header, f, kv_format);
    if (alt.total() <= available_bytes) {
      alternative = str_cat("format '", weight_format_name(f), "' would need ", mib(alt.total()), " and fits");
      break;
    }
  }
  fail(ErrorCode::LimitExceeded, "model does not fit: ", format ? weight_format_name(*format) : "checkpoint precision",
       " needs ", mib(fp.total()), " (weights ", mib(fp.weights), ", KV cache ", mib(fp.kv_cache),
       fp.cross_attention ? str_cat(", voice condition ", mib(fp.cross_attention)) : "", ", load buffer ",
       mib(fp.load_buffer), ") but the WebAssembly heap can take ", mib(available_bytes), " more; ", alternative);
}

}  // namespace kyutai
