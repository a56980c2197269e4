#include "lm/lm_config.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/config_reader.h"
#include "io/json.h"

namespace kyutai {

namespace {

// Sizes beyond these are refused before anything is allocated. The largest released model
// (Moshi 7B: dim 4096, 32 layers, text_card 32000) is well inside every one of them.
constexpr int kMaxDim = 16384;
constexpr int kMaxHeads = 1024;
constexpr int kMaxLayers = 512;
constexpr int kMaxCodebooks = 128;
constexpr int kMaxCard = 1 << 16;
constexpr int kMaxTextCard = 1 << 20;
constexpr int kMaxContext = 1 << 20;
constexpr double kMaxParameters = 40e9;
constexpr double kMaxKvCacheBytes = 4.0 * (1ull << 30);

constexpr int kMaxConditionValues = 4096;

std::vector<std::string> string_list(const ConfigReader& r, const Json& object, const std::string& key) {
  const Json* v = object.find(key);
  if (!v || v->is_null()) return {};
  if (!v->is_array()) r.error(key, str_cat("must be a list of strings, got ", Json::type_name(v->type())));
  if (v->as_array().size() > kMaxConditionValues)
    r.limit(key + " (length)", double(v->as_array().size()), kMaxConditionValues);
  std::vector<std::string> out;
  for (const Json& e : v->as_array()) {
    if (!e.is_string()) r.error(key, str_cat("must hold strings only, got ", Json::type_name(e.type())));
    out.push_back(e.as_string());
  }
  return out;
}

// One "conditioners" entry: {"type": "lut"|"tensor", "<type>": {...}}.
ConditionerConfig parse_conditioner(const std::string& name, const Json& entry, const std::string& document) {
  const std::string where = document + " conditioners." + name;
  if (!entry.is_object()) fail(ErrorCode::InvalidConfig, where, " must be an object");
  ConfigReader r(entry, where);
  ConditionerConfig c;
  c.name = name;
  std::string type = r.get_string("type", "");
  if (type != "lut" && type != "tensor")
    r.error("type", "must be 'lut' or 'tensor' (the conditioners Kyutai's TTS uses), got '" + type + "'");
  const Json* args = r.object(type);
  if (!args) r.error(type, "is required: the arguments of the '" + type + "' conditioner");
  ConfigReader a(*args, where + "." + type);
  c.kind = type == "lut" ? ConditionerKind::Lut : ConditionerKind::Tensor;
  c.dim = a.require_int("dim", 1, kMaxDim);
  if (c.kind == ConditionerKind::Tensor) return c;
  c.n_bins = a.require_int("n_bins", 1, kMaxConditionValues);
  std::string tokenizer = a.get_string("tokenizer", "noop");
  if (tokenizer != "noop") a.error("tokenizer", "must be 'noop' (values looked up as given), got '" + tokenizer + "'");
  c.possible_values = string_list(a, *args, "possible_values");
  if (int(c.possible_values.size()) != c.n_bins)
    a.error("possible_values", str_cat("has ", c.possible_values.size(), " entries, expected n_bins = ", c.n_bins));
  return c;
}

void parse_conditioning(const ConfigReader& r, const std::string& document, LmConfig& c) {
  c.cross_attention = r.get_bool("cross_attention", false);
  if (const Json* cond = r.object("conditioners")) {
    if (!cond->is_object()) r.error("conditioners", "must be an object of named conditioners");
    for (const auto& [name, entry] : cond->as_object())
      c.conditioners.push_back(parse_conditioner(name, entry, document));
  }
  if (const Json* f = r.object("fuser")) {
    ConfigReader fr(*f, document + " fuser");
    c.fuser.cross_attention_pos_emb = fr.get_bool("cross_attention_pos_emb", false);
    c.fuser.cross_attention_pos_emb_scale = fr.get_number("cross_attention_pos_emb_scale", 1.0, -1e6, 1e6);
    c.fuser.sum = string_list(fr, *f, "sum");
    c.fuser.cross = string_list(fr, *f, "cross");
    for (const char* other : {"prepend", "input_interpolate"})
      if (!string_list(fr, *f, other).empty())
        fr.error(other, "is not supported: only the 'sum' and 'cross' fusers are (Kyutai's TTS uses no other)");
    std::vector<std::string> seen;
    for (const auto* list : {&c.fuser.sum, &c.fuser.cross})
      for (const std::string& name : *list) {
        if (!c.conditioner(name))
          fr.error(list == &c.fuser.sum ? "sum" : "cross", "names '" + name + "', which is not in 'conditioners'");
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
          fr.error(list == &c.fuser.sum ? "sum" : "cross", "names '" + name + "' twice");
        seen.push_back(name);
      }
  }
  for (const ConditionerConfig& cc : c.conditioners) {
    bool in_sum = std::count(c.fuser.sum.begin(), c.fuser.sum.end(), cc.name) > 0;
    bool in_cross = std::count(c.fuser.cross.begin(), c.fuser.cross.end(), cc.name) > 0;
    if (!in_sum && !in_cross)
      r.error("fuser", "does not place conditioner '" + cc.name + "' (it must be in 'sum' or 'cross')");
    if (in_sum && cc.kind != ConditionerKind::Lut)
      r.error("fuser", "'sum' holds '" + cc.name + "', a tensor conditioner: a sum condition has one step (a LUT)");
  }
  if (c.cross_attention && c.fuser.cross.empty())
    r.error("cross_attention",
            "is true but the fuser's 'cross' list is empty: the layers would have nothing to attend");
  if (!c.cross_attention && !c.fuser.cross.empty())
    r.error("fuser",
            "has a 'cross' list but 'cross_attention' is false: Kyutai's LMModel would have no layer to use it");
  if (const Json* t = r.object("tts_config")) {
    ConfigReader tr(*t, document + " tts_config");
    TtsConfig tc;
    tc.audio_delay = tr.get_number("audio_delay", 0.0, 0.0, 3600.0);
    tc.second_stream_ahead = tr.get_int("second_stream_ahead", 0, 0, 1 << 16);
    tc.max_speakers = tr.get_int("max_speakers", 5, 1, 64);
    tc.multistream = tr.get_bool("multistream", false);
    c.tts_config = tc;
  }
  if (const Json* m = r.object("model_id")) {
    ConfigReader mr(*m, document + " model_id");
    c.model_id = ModelId{mr.get_string("sig", ""), mr.get_int("epoch", 0, 0, 1 << 30)};
  }
}

}  // namespace

const ConditionerConfig* LmConfig::conditioner(const std::string& name) const {
  for (const ConditionerConfig& c : conditioners)
    if (c.name == name) return &c;
  return nullptr;
}

bool parse_fusion_kind(const std::string& name, FusionKind* out) {
  for (FusionKind k : {FusionKind::Sum, FusionKind::Concat, FusionKind::CrossAttention, FusionKind::Interleave})
    if (name == fusion_kind_name(k)) {
      *out = k;
      return true;
    }
  return false;
}

const char* fusion_kind_name(FusionKind kind) {
  switch (kind) {
    case FusionKind::Sum: return "sum";
    case FusionKind::Concat: return "concat";
    case FusionKind::CrossAttention: return "cross_attention";
    case FusionKind::Interleave: return "interleave";
  }
  return "?";
}

int LmConfig::max_delay() const { return delays.empty() ? 0 : *std::max_element(delays.begin(), delays.end()); }

int LmConfig::depformer_weight_sets() const {
  if (!depformer_multi_linear) return 1;
  if (!depformer_weights_per_step_schedule.empty())
    return *std::max_element(depformer_weights_per_step_schedule.begin(), depformer_weights_per_step_schedule.end()) +
           1;
  return dep_q;
}

int LmConfig::depformer_in_index(int position) const {
  if (!depformer_multi_linear) return 0;
  return depformer_weights_per_step_schedule.empty() ? position : depformer_weights_per_step_schedule[position];
}

TransformerConfig LmConfig::main_transformer() const {
  TransformerConfig c = TransformerConfig::from_keys(dim, num_heads, num_layers, kv_repeat, norm, positional_embedding,
                                                     max_period, positional_scale, gating, {int(hidden_scale * dim)},
                                                     layer_scale, context);
  c.cross_attention = cross_attention;
  return c;
}

TransformerConfig LmConfig::depformer_transformer() const {
  // LMModel forces the Depformer's context to None; its norm type is the main one.
  TransformerConfig c = TransformerConfig::from_keys(
      depformer_dim, depformer_num_heads, depformer_num_layers, depformer_kv_repeat, norm, depformer_pos_emb,
      depformer_max_period, positional_scale, depformer_gating,
      depformer_dim_feedforward.empty() ? std::vector<int>{int(hidden_scale * depformer_dim)}
                                        : depformer_dim_feedforward,
      depformer_layer_scale, std::nullopt);
  c.weights_per_step = depformer_weights_per_step ? dep_q : 0;
  c.weights_per_step_schedule = depformer_weights_per_step_schedule;
  return c;
}

int LmConfig::effective_asr_delay_in_tokens() const {
  if (asr_delay_in_tokens) return *asr_delay_in_tokens;
  if (stt_config) return int(stt_config->audio_delay_seconds * 12.5);
  return 0;
}

double LmConfig::parameter_count() const {
  auto tc = main_transformer();
  double per_layer = double(dim) * (dim + 2.0 * tc.num_kv_heads() * tc.head_dim()) + double(dim) * dim;
  per_layer += tc.gated ? 3.0 * dim * tc.ffn_hidden(0) : 2.0 * dim * tc.ffn_dim(0);
  if (cross_attention) per_layer += 4.0 * dim * dim + 2.0 * dim;  // q, k, v, out and the LayerNorm
  double total = per_layer * num_layers;
  total += double(n_q) * (card + 1) * dim + double(text_card + 1) * dim + double(text_card_out) * dim;
  if (dep_q > 0) {
    auto dc = depformer_transformer();
    double dl = 0;
    for (int s = 0; s < dc.num_weight_sets(); ++s) {
      dl += double(depformer_dim) * (depformer_dim + 2.0 * dc.num_kv_heads() * dc.head_dim()) +
            double(depformer_dim) * depformer_dim;
      dl += dc.gated ? 3.0 * depformer_dim * dc.ffn_hidden(s) : 2.0 * depformer_dim * dc.ffn_dim(s);
    }
    total += dl * depformer_num_layers + double(dep_q) * (card + 1.0 + card) * depformer_dim +
             double(depformer_weight_sets()) * dim * depformer_dim;
  }
  return total;
}

LmConfig LmConfig::from_json(const Json& json, const std::string& document) {
  ConfigReader r(json, document);
  LmConfig c;
  // Keys Kyutai's PyTorch LM rejects (they belong to the Rust/MLX transformer configs).
  for (const char* key : {"bias_ff", "bias_attn", "depformer_bias_ff", "depformer_bias_attn"})
    if (r.present(key))
      r.error(key,
              "is not supported: Kyutai's LMModel raises \"TypeError: StreamingTransformerLayer.__init__() "
              "got an unexpected keyword argument\" for it (the PyTorch LM has no attention or FFN biases)");
  if (!r.get_bool("causal", true)) r.error("causal", "must be true: streaming needs a causal model");

  c.dim = r.require_int("dim", 1, kMaxDim);
  c.text_card = r.get_int("text_card", 32000, 1, kMaxTextCard);
  c.text_card_out = r.get_int("text_card_out", c.text_card, 1, kMaxTextCard);
  c.n_q = r.get_int("n_q", 8, 0, kMaxCodebooks);
  c.dep_q = r.get_int("dep_q", 8, 0, kMaxCodebooks);
  c.card = r.get_int("card", 1024, 1, kMaxCard);
  c.num_heads = r.get_int("num_heads", 8, 1, kMaxHeads);
  c.num_layers = r.require_int("num_layers", 0, kMaxLayers);
  c.hidden_scale = r.get_number("hidden_scale", 4, 0, 64);
  c.layer_scale = r.get_optional_number("layer_scale", -1e6, 1e6);
  c.context = r.get_optional_int("context", 1, kMaxContext);
  c.max_period = r.get_number("max_period", 10000, 1e-6, 1e12);
  c.gating = r.get_string("gating", "none");
  c.norm = r.get_string("norm", "layer_norm");
  c.positional_embedding = r.get_string("positional_embedding", "sin");
  c.positional_scale = r.get_number("positional_scale", 1.0, -1e6, 1e6);
  c.kv_repeat = r.get_int("kv_repeat", 1, 1, kMaxHeads);
  c.norm_emb = r.get_bool("norm_emb", false);
  c.bias_proj = r.get_bool("bias_proj", false);

  c.depformer_dim = r.get_int("depformer_dim", 256, 1, kMaxDim);
  c.depformer_dim_feedforward = r.get_int_list("depformer_dim_feedforward", 1, 1 << 20, kMaxCodebooks);
  // Absent depformer_* keys inherit the main transformer's value (LMModel's kwargs_dep).
  c.depformer_num_heads = r.get_int("depformer_num_heads", 0, 1, kMaxHeads);
  c.depformer_num_layers = r.get_int("depformer_num_layers", c.num_layers, 0, kMaxLayers);
  c.depformer_gating = r.get_string("depformer_gating", c.gating);
  c.depformer_layer_scale = r.present("depformer_layer_scale")
                                ? r.get_optional_number("depformer_layer_scale", -1e6, 1e6)
                                : c.layer_scale;
  c.depformer_max_period = r.get_number("depformer_max_period", c.max_period, 1e-6, 1e12);
  c.depformer_kv_repeat = r.get_int("depformer_kv_repeat", c.kv_repeat, 1, kMaxHeads);
  c.depformer_multi_linear = r.get_bool("depformer_multi_linear", false);
  c.depformer_weights_per_step = r.get_bool("depformer_weights_per_step", false);
  c.depformer_weights_per_step_schedule = r.get_int_list("depformer_weights_per_step_schedule", 0, kMaxCodebooks,
                                                         kMaxCodebooks);
  c.depformer_low_rank_embeddings = r.get_optional_int("depformer_low_rank_embeddings", 1, kMaxDim);
  c.depformer_pos_emb = r.get_string("depformer_pos_emb", "sin");
  c.depformer_norm = r.get_optional_string("depformer_norm");
  c.demux_second_stream = r.get_bool("demux_second_stream", r.get_bool("demux_second_text_stream", false));
  c.existing_text_padding_id = r.get_int("existing_text_padding_id", 3, -1, kMaxTextCard);
  c.existing_text_end_padding_id = r.get_int("existing_text_end_padding_id", 0, -1, kMaxTextCard);
  c.extra_heads_num_heads = r.get_int("extra_heads_num_heads", 0, 0, 64);
  c.extra_heads_dim = r.get_int("extra_heads_dim", 6, 1, 4096);
  c.delays = r.get_int_list("delays", 0, 1 << 16, kMaxCodebooks + 1);
  if (!r.present("delays")) c.delays = {0};

  c.model_type = r.get_string("model_type", "");
  c.tokenizer_name = r.get_string("tokenizer_name", "");
  if (const Json* g = r.object("lm_gen_config")) {
    ConfigReader gr(*g, document + " lm_gen_config");
    LmGenConfig lg;
    lg.temp = gr.get_number("temp", lg.temp, 0, 1e6);
    lg.temp_text = gr.get_number("temp_text", lg.temp_text, 0, 1e6);
    lg.top_k = gr.get_int("top_k", lg.top_k, 0, kMaxTextCard);
    lg.top_k_text = gr.get_int("top_k_text", lg.top_k_text, 0, kMaxTextCard);
    c.lm_gen_config = lg;
  }
  if (const Json* s = r.object("stt_config")) {
    ConfigReader sr(*s, document + " stt_config");
    SttConfig st;
    st.audio_delay_seconds = sr.get_number("audio_delay_seconds", 0, 0, 3600);
    st.audio_silence_prefix_seconds = sr.get_number("audio_silence_prefix_seconds", 0, 0, 3600);
    c.stt_config = st;
  }
  c.asr_delay_in_tokens = r.get_optional_int("asr_delay_in_tokens", 0, 1 << 20);
  parse_conditioning(r, document, c);

  std::string fusion = r.get_string("audio_fusion", "sum");
  if (!parse_fusion_kind(fusion, &c.audio_fusion))
    r.error("audio_fusion", "must be one of sum, concat, cross_attention, interleave; got '" + fusion + "'");
  c.audio_emb_dim = r.get_int("audio_emb_dim", c.dim, 1, kMaxDim);

  // Names the engine recognises; Kyutai's errors for anything else.
  NormKind nk;
  if (!parse_norm_kind(c.norm, &nk)) r.error("norm", "ValueError: Unknown norm type: " + c.norm);
  if (c.depformer_norm && !parse_norm_kind(*c.depformer_norm, &nk))
    r.error("depformer_norm", "ValueError: Unknown norm type: " + *c.depformer_norm);
  PosEmb pe;
  if (!parse_pos_emb(c.positional_embedding, &pe))
    r.error("positional_embedding",
            "must be one of sin, rope, sin_rope, rope_concat, none; got '" + c.positional_embedding + "'");
  if (!parse_pos_emb(c.depformer_pos_emb, &pe))
    r.error("depformer_pos_emb",
            "must be one of sin, rope, sin_rope, rope_concat, none; got '" + c.depformer_pos_emb + "'");
  bool gated;
  Activation act;
  if (!parse_gating(c.gating, &gated, &act)) r.error("gating", "ValueError: Unknown activation " + c.gating);
  if (!parse_gating(c.depformer_gating, &gated, &act))
    r.error("depformer_gating", "ValueError: Unknown activation " + c.depformer_gating);

  // Cross-key consistency.
  if (int(c.delays.size()) != c.num_codebooks())
    r.error("delays", str_cat("has ", c.delays.size(), " entries, expected n_q + 1 = ", c.num_codebooks()));
  if (c.dep_q > c.n_q) r.error("dep_q", str_cat("(", c.dep_q, ") cannot exceed n_q (", c.n_q, ")"));
  if (c.demux_second_stream && c.norm_emb)
    r.error("demux_second_stream", "cannot be combined with norm_emb (Kyutai's ScaledEmbedding asserts not norm)");
  if (!c.depformer_weights_per_step_schedule.empty() && int(c.depformer_weights_per_step_schedule.size()) != c.dep_q)
    r.error("depformer_weights_per_step_schedule",
            str_cat("has ", c.depformer_weights_per_step_schedule.size(), " entries, expected dep_q = ", c.dep_q));
  c.main_transformer().validate(document + " (main transformer)");
  if (c.dep_q > 0) {
    if (c.depformer_num_heads <= 0)
      r.error("depformer_num_heads", "is required when dep_q > 0 (the Depformer has no default head count)");
    c.depformer_transformer().validate(document + " (Depformer)");
  }
  if (c.audio_fusion == FusionKind::CrossAttention && c.audio_emb_dim != c.dim)
    r.error("audio_emb_dim", "must equal dim for cross_attention fusion");

  double params = c.parameter_count();
  if (params > kMaxParameters)
    fail(ErrorCode::LimitExceeded, document, ": the configuration implies ", params / 1e9,
         "e9 parameters, beyond the limit of ", kMaxParameters / 1e9, "e9 (kyutai-wasm kMaxParameters)");
  auto tc = c.main_transformer();
  double kv_bytes = double(c.num_layers) * c.context.value_or(0) * tc.num_kv_heads() * tc.head_dim() * 2 * 4;
  if (kv_bytes > kMaxKvCacheBytes)
    fail(ErrorCode::LimitExceeded, document, ": a KV cache of ", c.num_layers, " layers x context ",
         c.context.value_or(0), " needs ", kv_bytes / (1 << 20), " MiB, beyond the limit of ",
         kMaxKvCacheBytes / (1 << 20), " MiB");
  return c;
}

LmConfig LmConfig::parse(const std::string& text, const std::string& document) {
  return from_json(parse_config_json(text, document), document);
}

}  // namespace kyutai
