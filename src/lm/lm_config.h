// The LM configuration, one field per key of Kyutai's config.json (the `lm_kwargs` of
// moshi.models.loaders.get_moshi_lm), with LMModel's defaults for absent keys, and the
// derived transformer configurations computed in one place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nn/transformer.h"

namespace kyutai {

class Json;

// How audio and text embeddings are combined (audio_processing.h). Kyutai sums.
enum class FusionKind { Sum, Concat, CrossAttention, Interleave };
bool parse_fusion_kind(const std::string& name, FusionKind* out);
const char* fusion_kind_name(FusionKind kind);

struct LmGenConfig {  // "lm_gen_config"
  double temp = 0.8, temp_text = 0.7;
  int top_k = 250, top_k_text = 25;
};

struct SttConfig {  // "stt_config"
  double audio_delay_seconds = 0.0;
  double audio_silence_prefix_seconds = 0.0;
};

// One entry of "conditioners" (moshi.models.loaders.get_conditioner): a look-up table of
// strings ("lut") or a projected tensor ("tensor"); both project to the LM dim.
enum class ConditionerKind { Lut, Tensor };
struct ConditionerConfig {
  std::string name;
  ConditionerKind kind = ConditionerKind::Lut;
  int dim = 0;                               // LUT embedding width, or the tensor's channels
  int n_bins = 0;                            // LUT only
  std::vector<std::string> possible_values;  // LUT only: index = position, None -> n_bins
};

struct FuserConfig {  // "fuser" (moshi.conditioners.ConditionFuser)
  bool cross_attention_pos_emb = false;
  double cross_attention_pos_emb_scale = 1.0;
  std::vector<std::string> sum, cross;  // conditioner names, in the fuser's order
};

struct TtsConfig {           // "tts_config" (TTSModel.from_checkpoint_info)
  double audio_delay = 0.0;  // seconds
  int second_stream_ahead = 0;
  int max_speakers = 5;
  bool multistream = false;
  int delay_steps() const { return int(audio_delay * 12.5); }  // Kyutai: int(audio_delay * frame_rate)
};

struct ModelId {  // "model_id": voice files are named <voice>.<sig>@<epoch>.safetensors
  std::string sig;
  int epoch = 0;
};

struct LmConfig {
  int dim = 0;
  int text_card = 32000;
  int text_card_out = 32000;
  int n_q = 8;
  int dep_q = 8;
  int card = 1024;
  int num_heads = 8;
  int num_layers = 0;
  double hidden_scale = 4;
  bool causal = true;
  std::optional<double> layer_scale;
  std::optional<int> context;
  double max_period = 10000;
  std::string gating = "none";
  std::string norm = "layer_norm";
  std::string positional_embedding = "sin";
  double positional_scale = 1.0;
  int kv_repeat = 1;
  bool norm_emb = false;
  bool bias_proj = false;

  int depformer_dim = 256;
  std::vector<int> depformer_dim_feedforward;  // empty: int(hidden_scale * depformer_dim)
  int depformer_num_heads = 0;
  int depformer_num_layers = 0;
  std::string depformer_gating;
  std::optional<double> depformer_layer_scale;
  double depformer_max_period = 10000;
  int depformer_kv_repeat = 1;
  bool depformer_multi_linear = false;
  bool depformer_weights_per_step = false;
  std::vector<int> depformer_weights_per_step_schedule;
  std::optional<int> depformer_low_rank_embeddings;
  std::string depformer_pos_emb = "sin";
  std::optional<std::string> depformer_norm;

  bool demux_second_stream = false;
  int existing_text_padding_id = 3;
  int existing_text_end_padding_id = 0;
  int extra_heads_num_heads = 0;
  int extra_heads_dim = 6;
  std::vector<int> delays;

  // Conditioning (Kyutai's TTS): per-layer cross-attention to the fuser's cross list, and
  // the fuser's sum list added to every step's input.
  bool cross_attention = false;
  std::vector<ConditionerConfig> conditioners;  // in the file's order
  FuserConfig fuser;
  std::optional<TtsConfig> tts_config;
  std::optional<ModelId> model_id;

  // Keys that are not LMModel arguments but come with released checkpoints.
  std::string model_type;
  std::optional<LmGenConfig> lm_gen_config;
  std::optional<SttConfig> stt_config;
  std::optional<int> asr_delay_in_tokens;
  std::string tokenizer_name;

  // kyutai-wasm extensions for the audio processing module (absent in Kyutai's files).
  FusionKind audio_fusion = FusionKind::Sum;
  int audio_emb_dim = 0;  // width of the audio tables; 0 = dim (Kyutai)

  // Derived
  int num_codebooks() const { return n_q + 1; }  // K: text + audio streams
  int audio_initial_token() const { return card; }
  int text_initial_token() const { return text_card; }
  int max_delay() const;
  const ConditionerConfig* conditioner(const std::string& name) const;  // nullptr when absent
  int user_codebooks() const { return n_q - dep_q; }
  int depformer_weight_sets() const;  // number of depformer_in / weight sets
  int depformer_in_index(int position) const;
  TransformerConfig main_transformer() const;
  TransformerConfig depformer_transformer() const;
  int effective_asr_delay_in_tokens() const;  // asr_delay_in_tokens, else stt_config * 12.5
  // Whole-model parameter count implied by the config (validated against limits).
  double parameter_count() const;

  static LmConfig from_json(const Json& json, const std::string& document = "config.json");
  static LmConfig parse(const std::string& text, const std::string& document = "config.json");
};

}  // namespace kyutai
