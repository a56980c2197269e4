#include "lm/conditioners.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "io/dtype.h"
#include "io/safetensors.h"
#include "kernels/ops.h"
#include "nn/weight_loader.h"

namespace kyutai {

namespace {

constexpr int64_t kMaxVoiceChannels = 1 << 16, kMaxVoiceFrames = 1 << 20;

void check_voice_shape(int64_t channels, int64_t length) {
  if (channels < 1 || channels > kMaxVoiceChannels || length < 1 || length > kMaxVoiceFrames)
    fail(ErrorCode::InvalidArgument, "voice: speaker_wavs must be [1, C, T] with 1 <= C <= ", kMaxVoiceChannels,
         " and 1 <= T <= ", kMaxVoiceFrames, ", got [1, ", channels, ", ", length, "]");
}

std::string format_cfg(double cfg_coef) {  // Python's format(cfg_coef, '.1f')
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f", cfg_coef);
  return buf;
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

}  // namespace

Voice Voice::from_latent(int64_t channels, int64_t length, std::vector<float> latent) {
  check_voice_shape(channels, length);
  if (latent.size() != size_t(channels * length))
    fail(ErrorCode::InvalidArgument, "voice: a [1, ", channels, ", ", length, "] latent holds ", channels * length,
         " values, got ", latent.size());
  for (size_t i = 0; i < latent.size(); ++i)
    if (!std::isfinite(latent[i]))
      fail(ErrorCode::InvalidArgument, "voice: latent value ", i, " (channel ", i / size_t(length), ", frame ",
           i % size_t(length), ") is ", std::isnan(latent[i]) ? "NaN" : "infinite", "; values must be finite");
  Voice v;
  v.channels = int(channels);
  v.length = int(length);
  v.latent = std::move(latent);
  return v;
}

Voice load_voice(const uint8_t* bytes, size_t size) {
  SafetensorsFile file(bytes, size);
  for (const TensorInfo& t : file.header().tensors) {
    if (t.name != "speaker_wavs") continue;
    if (t.shape.size() != 3 || t.shape[0] != 1)
      fail(ErrorCode::InvalidArgument, "voice file: speaker_wavs must be [1, C, T], got ", t.shape_string());
    if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
      fail(ErrorCode::InvalidArgument, "voice file: speaker_wavs must be F32, BF16 or F16");
    check_voice_shape(t.shape[1], t.shape[2]);
    std::vector<float> latent(t.numel());
    convert_to_f32(t.dtype, file.tensor_data(t), t.numel(), latent.data());
    return Voice::from_latent(t.shape[1], t.shape[2], std::move(latent));
  }
  fail(ErrorCode::InvalidArgument, "voice file: no tensor named speaker_wavs (the kyutai/tts-voices format)");
}

std::vector<uint8_t> voice_file(const Voice& voice) {
  TensorToWrite t{"speaker_wavs", DType::F32, {1, voice.channels, voice.length}, {}};
  const auto* bytes = reinterpret_cast<const uint8_t*>(voice.latent.data());
  t.data.assign(bytes, bytes + voice.latent.size() * sizeof(float));
  return serialize_safetensors({t});
}

ConditionAttributes tts_condition_attributes(const LmConfig& config, const std::vector<Voice>& voices,
                                             std::optional<double> cfg_coef) {
  ConditionAttributes a;
  const int max_speakers = config.tts_config ? config.tts_config->max_speakers : 5;
  const ConditionerConfig* speaker = config.conditioner("speaker_wavs");
  if (int(voices.size()) > max_speakers)
    fail(ErrorCode::InvalidArgument, voices.size(), " voices given: this model takes 1 to ", max_speakers);
  if (!voices.empty()) {
    if (!speaker) fail(ErrorCode::InvalidArgument, "this model has no speaker_wavs conditioner: it takes no voice");
    const int C = voices[0].channels, T = voices[0].length;
    for (size_t i = 0; i < voices.size(); ++i) {
      const Voice& v = voices[i];
      if (v.channels != speaker->dim || v.length <= 0 || v.latent.size() != size_t(v.channels) * v.length)
        fail(ErrorCode::InvalidArgument, "voice ", i, ": speaker_wavs must be [1, ", speaker->dim,
             ", T] with T >= 1, got [1, ", v.channels, ", ", v.length, "] holding ", v.latent.size(), " values");
      if (v.length != T)
        fail(ErrorCode::InvalidArgument, "voice ", i, " has ", v.length, " frames but voice 0 has ", T,
             ": every voice of one speaker set must have the same length");
    }
    ConditionTensor t;
    t.length = max_speakers * T;
    t.channels = C;
    t.values.assign(size_t(t.length) * C, 0.0f);
    t.mask.assign(t.length, 0);
    for (size_t i = 0; i < voices.size(); ++i)
      for (int s = 0; s < T; ++s) {
        const size_t row = i * T + s;
        t.mask[row] = 1;
        for (int c = 0; c < C; ++c) t.values[row * C + c] = voices[i].latent[size_t(c) * T + s];
      }
    a.tensors["speaker_wavs"] = std::move(t);
  }
  if (config.conditioner("control")) a.text["control"] = "ok";
  if (const ConditionerConfig* cfg = config.conditioner("cfg")) {
    if (cfg_coef) {
      std::string value = format_cfg(*cfg_coef);
      if (std::find(cfg->possible_values.begin(), cfg->possible_values.end(), value) == cfg->possible_values.end())
        fail(ErrorCode::InvalidArgument, "cfg_coef ", value,
             " is not one this model was distilled for: expected one of ", joined(cfg->possible_values));
      a.text["cfg"] = value;
    } else {
      a.text["cfg"] = std::nullopt;
    }
  }
  return a;
}

ConditionAttributes null_condition_attributes(const ConditionAttributes& attributes) {
  ConditionAttributes n = attributes;
  for (auto& [name, value] : n.text) value = std::nullopt;
  for (auto& [name, t] : n.tensors) {
    std::fill(t.values.begin(), t.values.end(), 0.0f);
    std::fill(t.mask.begin(), t.mask.end(), 0);
  }
  return n;
}

Conditioners::Conditioners(const LmConfig& config) : dim_(config.dim), fuser_(config.fuser) {
  for (const ConditionerConfig& c : config.conditioners) entries_.push_back(Entry{c, {}, {}, {}});
}

void Conditioners::declare_weights(WeightLoader& loader) {
  for (Entry& e : entries_) {
    const std::string p = "condition_provider.conditioners." + e.config.name + ".";
    if (e.config.kind == ConditionerKind::Lut)
      loader.table(p + "embed.weight", e.config.n_bins + 1, e.config.dim, &e.embed);
    loader.linear(p + "output_proj", dim_, e.config.dim, &e.output_proj);
    loader.vector(p + "learnt_padding", {1, 1, dim_}, &e.learnt_padding);
  }
}

const Conditioners::Entry& Conditioners::entry(const std::string& name, ConditionerKind kind) const {
  for (const Entry& e : entries_)
    if (e.config.name == name) {
      if (e.config.kind != kind)
        fail(ErrorCode::InvalidArgument, "conditioner '", name, "' is a ",
             e.config.kind == ConditionerKind::Lut ? "LUT (takes a string)" : "tensor conditioner (takes a tensor)");
      return e;
    }
  fail(ErrorCode::InvalidArgument, "this model has no conditioner named '", name, "'");
}

void Conditioners::project(const Entry& e, const float* x, const uint8_t* mask, int rows, float* y,
                           ThreadPool* pool) const {
  e.output_proj.forward(x, rows, y, pool);
  // Kyutai: y * mask + learnt_padding * (1 - mask); exact for a 0/1 mask.
  for (int r = 0; r < rows; ++r)
    if (!mask[r]) std::copy(e.learnt_padding.begin(), e.learnt_padding.end(), y + size_t(r) * dim_);
}

std::vector<float> Conditioners::lut(const std::string& name, const std::optional<std::string>& value,
                                     ThreadPool* pool) const {
  const Entry& e = entry(name, ConditionerKind::Lut);
  const auto& values = e.config.possible_values;
  int index = e.config.n_bins;  // None
  if (value) {
    auto it = std::find(values.begin(), values.end(), *value);
    if (it == values.end())
      fail(ErrorCode::InvalidArgument, "conditioner '", name, "': value '", *value, "' is not one of ", joined(values));
    index = int(it - values.begin());
  }
  std::vector<float> row(e.config.dim), y(dim_);
  e.embed.row(index, row.data());
  const uint8_t present = value ? 1 : 0;
  project(e, row.data(), &present, 1, y.data(), pool);
  return y;
}

std::vector<float> Conditioners::tensor(const std::string& name, const ConditionTensor& in, ThreadPool* pool) const {
  const Entry& e = entry(name, ConditionerKind::Tensor);
  if (in.channels != e.config.dim || in.length <= 0 || in.values.size() != size_t(in.length) * in.channels ||
      in.mask.size() != size_t(in.length))
    fail(ErrorCode::InvalidArgument, "conditioner '", name, "': expected a tensor [T >= 1, ", e.config.dim,
         "] with a mask [T], got [", in.length, ", ", in.channels, "] holding ", in.values.size(), " values and ",
         in.mask.size(), " mask entries");
  std::vector<float> y(size_t(in.length) * dim_);
  project(e, in.values.data(), in.mask.data(), in.length, y.data(), pool);
  return y;
}

LmConditions Conditioners::prepare(const ConditionAttributes& a, ThreadPool* pool) const {
  for (const auto& [name, v] : a.text) entry(name, ConditionerKind::Lut);
  for (const auto& [name, t] : a.tensors) entry(name, ConditionerKind::Tensor);
  LmConditions out;
  for (const std::string& name : fuser_.sum) {
    auto it = a.text.find(name);
    std::vector<float> c = lut(name, it == a.text.end() ? std::nullopt : it->second, pool);
    if (out.sum.empty()) out.sum = std::move(c);
    else
      for (int i = 0; i < dim_; ++i) out.sum[i] += c[i];
  }
  for (const std::string& name : fuser_.cross) {
    auto it = a.tensors.find(name);
    if (it == a.tensors.end())
      fail(ErrorCode::InvalidArgument, "the cross-attention condition '", name, "' is required (e.g. a voice)");
    std::vector<float> c = tensor(name, it->second, pool);
    out.cross.insert(out.cross.end(), c.begin(), c.end());
    out.cross_length += it->second.length;
  }
  // Positions run over the whole concatenated source (ConditionFuser, cross_attention_pos_emb).
  if (fuser_.cross_attention_pos_emb)
    for (int s = 0; s < out.cross_length; ++s)
      add_sin_embedding(out.cross.data() + size_t(s) * dim_, dim_, s, 10000.0,
                        float(fuser_.cross_attention_pos_emb_scale));
  return out;
}

}  // namespace kyutai
