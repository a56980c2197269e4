// The Mimi codec configuration, one field per key of Kyutai's `_mimi_config`
// (moshi.models.loaders: "seanet", "quantizer", "transformer", sample_rate, channels,
// frame_rate), with the defaults of the Kyutai classes the keys are passed to, and the sizes
// derived from them (hop length, frame size, resampling stride) computed in one place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nn/transformer.h"

namespace kyutai {

class Json;

// SEANetEncoder / SEANetDecoder keyword arguments (both take the same dict).
struct SeanetConfig {
  int channels = 1;
  int dimension = 128;
  int n_filters = 32;
  int n_residual_layers = 3;
  std::vector<int> ratios = {8, 5, 4, 2};  // decoder order; the encoder runs them reversed
  std::string activation = "ELU";
  std::string norm = "none";
  int kernel_size = 7;
  int last_kernel_size = 7;
  int residual_kernel_size = 3;
  int dilation_base = 2;
  bool causal = false;
  std::string pad_mode = "reflect";
  bool true_skip = true;
  int compress = 2;
  int disable_norm_outer_blocks = 0;

  int hop_length() const;  // product of the ratios: samples per encoder step
};

// SplitResidualVectorQuantizer keyword arguments.
struct QuantizerConfig {
  int dimension = 128;         // codebook vector size
  int n_q = 8;                 // codebooks in the checkpoint (semantic + acoustic)
  int n_q_semantic = 1;        // codebooks of rvq_first
  int bins = 1024;             // entries per codebook
  int input_dimension = 128;   // latent size fed to input_proj
  int output_dimension = 128;  // latent size out of output_proj
};

// ProjectedTransformer keyword arguments (encoder and decoder transformers share them).
struct MimiTransformerConfig {
  int d_model = 0;
  int num_heads = 8;
  int num_layers = 0;
  bool causal = false;
  std::optional<double> layer_scale;
  std::optional<int> context;
  bool conv_layout = false;
  double max_period = 10000;
  std::string gating = "none";
  std::string norm = "layer_norm";
  std::string positional_embedding = "sin";
  double positional_scale = 1.0;
  int kv_repeat = 1;
  int dim_feedforward = 2048;
  int input_dimension = 0;
  std::vector<int> output_dimensions;

  TransformerConfig transformer() const;
};

struct MimiConfig {
  int sample_rate = 24000;
  int channels = 1;
  double frame_rate = 12.5;
  SeanetConfig seanet;
  QuantizerConfig quantizer;
  MimiTransformerConfig transformer;
  // MimiModel arguments that loaders.get_mimi fixes rather than reading from the dict.
  std::string resample_method = "conv";
  bool upsample_channel_wise_bug = true;

  // Derived
  int frame_size() const;               // samples per codec frame: int(sample_rate / frame_rate)
  int encoder_steps_per_frame() const;  // frame_size / hop length (the resampling stride)
  double encoder_frame_rate() const { return double(sample_rate) / seanet.hop_length(); }
  int num_codebooks() const { return quantizer.n_q; }

  static MimiConfig from_json(const Json& json, const std::string& document = "mimi config.json");
  static MimiConfig parse(const std::string& text, const std::string& document = "mimi config.json");
};

// Kyutai's released Mimi as JSON, key for key as moshi/models/loaders.py writes
// _seanet_kwargs, _quantizer_kwargs and _transformer_kwargs, with n_q 32 (the checkpoint's
// codebooks); the released checkpoint comes without a config (moshi-core: Config::v0_1).
const char* released_mimi_config_json();

}  // namespace kyutai
