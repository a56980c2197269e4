// Checkpoints with Kyutai's exact tensor names and shapes for any LM config, filled with
// deterministic pseudo-random values (uniform, with the scale of each kind of tensor Kyutai's
// test checkpoints use). Tests, benchmarks and the full-size generator use it: real weights
// cannot be downloaded here, and a real-shape model is what a speed or memory figure needs.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "io/safetensors.h"
#include "lm/lm_config.h"
#include "nn/weight_loader.h"

namespace kyutai {

using TensorSink = std::function<void(const TensorInfo&, const uint8_t*)>;

// Value of each element of a tensor: offset + scale * u, u uniform with unit variance.
using ValueLaw = std::function<void(const WeightLoader::Expected& tensor, float* offset, float* scale)>;

// Any model's declared tensors (WeightLoader::expected()), one at a time, each drawn from
// its own generator (seeded by `seed` and its name, so the order does not matter).
void generate_synthetic(const std::vector<WeightLoader::Expected>& tensors, DType dtype, uint64_t seed,
                        const ValueLaw& law, const TensorSink& sink);

// Every tensor LMModel.state_dict() has for `config` (split layout), in file order.
std::vector<WeightLoader::Expected> synthetic_lm_specs(const LmConfig& config);

// Value laws: the LM's by kind and name (linear weights 1/sqrt(fan in), tables 0.25, norm gains
// about 1, biases and learnt paddings 0.1), used by generate_synthetic_lm.
void synthetic_lm_value_law(const WeightLoader::Expected& tensor, float* offset, float* scale);

// Headers of `tensors` in safetensors order (their order) with offsets filled in.
std::vector<TensorInfo> synthetic_tensor_infos(const std::vector<WeightLoader::Expected>& tensors, DType dtype);

// Headers of every tensor (split layout) in safetensors order with offsets filled in.
std::vector<TensorInfo> synthetic_lm_tensors(const LmConfig& config, DType dtype);
// Generates one tensor at a time (peak memory: the largest tensor) into `sink`.
void generate_synthetic_lm(const LmConfig& config, DType dtype, uint64_t seed, const TensorSink& sink);
// A whole safetensors file in memory (small configs only).
std::vector<uint8_t> synthetic_lm_safetensors(const LmConfig& config, DType dtype, uint64_t seed);

// Value law of the codec's (Mimi's) tensors, by name: weights 1/sqrt(fan in), positive
// codebook usage, small layer scales, so a timing runs on ordinary floats through its 30-odd
// layers (no denormals, no infinities) as with real weights.
void synthetic_codec_value_law(const WeightLoader::Expected& tensor, float* offset, float* scale);

// A voice in the kyutai/tts-voices format for a TTS config: one tensor "speaker_wavs" f32
// [1, C, frames], C = the speaker_wavs conditioner's dim (Mimi's unquantized latent), values of
// unit variance. Fails when the config has no speaker_wavs conditioner.
WeightLoader::Expected synthetic_voice_tensor(const LmConfig& config, int frames);
void synthetic_voice_value_law(const WeightLoader::Expected& tensor, float* offset, float* scale);

}  // namespace kyutai
