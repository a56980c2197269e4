// Kyutai's condition provider and fuser (moshi.conditioners) as the TTS uses them: LUT
// conditioners (strings such as the CFG coefficient "2.0" or control "ok") and tensor
// conditioners (the speaker voices), each projected to the LM dim with a learnt padding where
// the condition is absent; the fuser sums some into every step's input and concatenates the
// others, with sinusoidal positions, into the cross-attention source.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lm/lm_config.h"
#include "nn/embedding_table.h"
#include "nn/linear.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

// A tensor condition: values [length, channels] (time-major) and which positions are present.
struct ConditionTensor {
  int length = 0, channels = 0;
  std::vector<float> values;
  std::vector<uint8_t> mask;  // [length]
};

// ConditionAttributes: a value (nullopt = None) per LUT conditioner, a tensor per tensor
// conditioner. A conditioner left out is None (its learnt padding).
struct ConditionAttributes {
  std::map<std::string, std::optional<std::string>> text;
  std::map<std::string, ConditionTensor> tensors;
};

// What the LM reads: `sum` [dim] added to every step's input (empty: none), `cross`
// [cross_length, dim] the source of every layer's cross-attention (empty: none).
struct LmConditions {
  std::vector<float> sum;
  std::vector<float> cross;
  int cross_length = 0;
};

// Kyutai's voices are 10 s of audio (tts_make_voice.py's --duration, moshi-server's voice
// service): 125 frames of Mimi's 12.5 Hz latent.
constexpr double kVoiceSeconds = 10.0;
constexpr int kVoiceFrames = 125;

// A voice in the kyutai/tts-voices format: speaker_wavs [1, channels, length] (channel-major).
struct Voice {
  int channels = 0, length = 0;
  std::vector<float> latent;  // [channels, length]

  // A voice from a Mimi latent [channels, length] (channel-major: Mimi::encode_to_latent's
  // layout). Refused unless 1 <= channels <= 65536, 1 <= length <= 1048576, the latent holds
  // channels * length values and every one is finite.
  static Voice from_latent(int64_t channels, int64_t length, std::vector<float> latent);
};

// A kyutai/tts-voices file (safetensors holding "speaker_wavs" [1, C, T], f32/bf16/f16).
Voice load_voice(const uint8_t* safetensors, size_t size);
// The voice as a kyutai/tts-voices file: "speaker_wavs" F32 [1, C, T] (load_voice reads it back).
std::vector<uint8_t> voice_file(const Voice& voice);

// make_condition_attributes(voices, cfg_coef): voices in slots 0.. of max_speakers slots of
// length T each (all voices must share T), flattened slot-major; control = "ok" when the model
// has a `control` LUT; cfg = '%.1f' of cfg_coef when it has a `cfg` LUT (nullopt: None).
ConditionAttributes tts_condition_attributes(const LmConfig& config, const std::vector<Voice>& voices,
                                             std::optional<double> cfg_coef);
// dropout_all_conditions: every text value None, every tensor zeroed with its mask cleared.
ConditionAttributes null_condition_attributes(const ConditionAttributes& attributes);

class Conditioners {
 public:
  explicit Conditioners(const LmConfig& config);
  void declare_weights(WeightLoader& loader);
  bool empty() const { return entries_.empty(); }

  // One LUT conditioner's output [dim] for a value (nullopt = None -> learnt padding).
  std::vector<float> lut(const std::string& name, const std::optional<std::string>& value, ThreadPool* pool) const;
  // One tensor conditioner's output [length, dim].
  std::vector<float> tensor(const std::string& name, const ConditionTensor& input, ThreadPool* pool) const;
  // The fuser: sum and cross conditions of a whole attribute set.
  LmConditions prepare(const ConditionAttributes& attributes, ThreadPool* pool) const;

 private:
  struct Entry {
    ConditionerConfig config;
    EmbeddingTable embed;  // LUT: n_bins + 1 rows (last = None)
    Linear output_proj;
    std::vector<float> learnt_padding;  // [dim]
  };
  const Entry& entry(const std::string& name, ConditionerKind kind) const;
  // y = proj(x) where present, learnt padding elsewhere.
  void project(const Entry& e, const float* x, const uint8_t* mask, int rows, float* y, ThreadPool* pool) const;

  int dim_;
  FuserConfig fuser_;
  std::vector<Entry> entries_;
};

}  // namespace kyutai
