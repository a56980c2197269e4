#include "codec/mimi_config.h"

#include <cmath>

#include "core/error.h"
#include "io/config_reader.h"
#include "io/json.h"
#include "nn/norm.h"

namespace kyutai {

namespace {

// Sizes beyond these are refused before anything is allocated. The released Mimi
// (dimension 512, 64 filters, ratios 8 6 5 4, 32 codebooks of 2048) is far inside each.
constexpr int kMaxWidth = 8192;  // any channel count, d_model, codebook dimension
constexpr int kMaxRatios = 8;
constexpr int kMaxRatio = 64;
constexpr int kMaxKernel = 512;
constexpr int kMaxLayers = 64;
constexpr int kMaxHeads = 256;
constexpr int kMaxCodebooks = 128;
constexpr int kMaxBins = 1 << 16;
constexpr int kMaxSampleRate = 384000;
constexpr int kMaxFrameSize = 1 << 18;
constexpr int kMaxContext = 1 << 16;
constexpr double kMaxParameters = 2e9;

SeanetConfig parse_seanet(const ConfigReader& r) {
  SeanetConfig c;
  c.channels = r.get_int("channels", c.channels, 1, 16);
  c.dimension = r.get_int("dimension", c.dimension, 1, kMaxWidth);
  c.n_filters = r.get_int("n_filters", c.n_filters, 1, kMaxWidth);
  c.n_residual_layers = r.get_int("n_residual_layers", c.n_residual_layers, 0, kMaxLayers);
  if (r.present("ratios")) c.ratios = r.get_int_list("ratios", 1, kMaxRatio, kMaxRatios);
  c.activation = r.get_string("activation", c.activation);
  c.norm = r.get_string("norm", c.norm);
  c.kernel_size = r.get_int("kernel_size", c.kernel_size, 1, kMaxKernel);
  c.last_kernel_size = r.get_int("last_kernel_size", c.last_kernel_size, 1, kMaxKernel);
  c.residual_kernel_size = r.get_int("residual_kernel_size", c.residual_kernel_size, 1, kMaxKernel);
  c.dilation_base = r.get_int("dilation_base", c.dilation_base, 1, 64);
  c.causal = r.get_bool("causal", c.causal);
  c.pad_mode = r.get_string("pad_mode", c.pad_mode);
  c.true_skip = r.get_bool("true_skip", c.true_skip);
  c.compress = r.get_int("compress", c.compress, 1, kMaxWidth);
  c.disable_norm_outer_blocks = r.get_int("disable_norm_outer_blocks", 0, 0, kMaxRatios + 2);

  if (r.has("activation_params") || r.has("final_activation"))
    fail(ErrorCode::Unsupported, r.document(),
         ": 'activation_params' / 'final_activation' are not supported "
         "(Mimi uses ELU with alpha 1, no final activation)");
  if (c.ratios.empty()) r.error("ratios", "must list at least one ratio");
  if (c.activation != "ELU")
    fail(ErrorCode::Unsupported, r.document(), ": 'activation' ", c.activation, " is not supported (Mimi uses ELU)");
  if (c.norm != "none")
    fail(ErrorCode::Unsupported, r.document(), ": 'norm' ", c.norm,
         " is not supported: Kyutai ships Mimi weights with weight_norm folded in (norm 'none')");
  if (!c.causal) r.error("causal", "must be true: Kyutai's StreamingConv1d asserts causal convolutions");
  if (c.pad_mode != "constant" && c.pad_mode != "replicate")
    r.error("pad_mode",
            "must be 'constant' or 'replicate' (Kyutai's StreamingConv1d asserts it), got '" + c.pad_mode + "'");
  if (c.dimension / c.compress < 1 && c.n_residual_layers > 0)
    r.error("compress", "leaves residual blocks with no hidden channel");
  int widest = c.n_filters;
  for (size_t i = 0; i < c.ratios.size(); ++i) {
    if (widest > kMaxWidth / 2) r.limit("n_filters * 2^len(ratios)", double(widest) * 2, kMaxWidth);
    widest *= 2;
  }
  double hop = 1;
  for (int ratio : c.ratios) hop *= ratio;
  if (hop > kMaxFrameSize) r.limit("ratios (product)", hop, kMaxFrameSize);
  return c;
}

QuantizerConfig parse_quantizer(const ConfigReader& r, int seanet_dimension) {
  QuantizerConfig c;
  c.dimension = r.get_int("dimension", c.dimension, 1, kMaxWidth);
  c.n_q = r.get_int("n_q", c.n_q, 1, kMaxCodebooks);
  c.n_q_semantic = r.get_int("n_q_semantic", c.n_q_semantic, 1, kMaxCodebooks);
  c.bins = r.get_int("bins", c.bins, 1, kMaxBins);
  c.input_dimension = r.get_int("input_dimension", c.dimension, 1, kMaxWidth);
  c.output_dimension = r.get_int("output_dimension", c.dimension, 1, kMaxWidth);
  if (c.n_q <= c.n_q_semantic)
    r.error("n_q", str_cat("(", c.n_q, ") must be larger than n_q_semantic (", c.n_q_semantic,
                           "): Kyutai's SplitResidualVectorQuantizer asserts it"));
  if (c.input_dimension != seanet_dimension)
    r.error("input_dimension",
            str_cat("(", c.input_dimension, ") must equal seanet.dimension (", seanet_dimension, ")"));
  if (c.output_dimension != seanet_dimension)
    r.error("output_dimension",
            str_cat("(", c.output_dimension, ") must equal seanet.dimension (", seanet_dimension, ")"));
  return c;
}

MimiTransformerConfig parse_transformer(const ConfigReader& r, int seanet_dimension) {
  MimiTransformerConfig c;
  c.d_model = r.require_int("d_model", 1, kMaxWidth);
  c.num_heads = r.get_int("num_heads", c.num_heads, 1, kMaxHeads);
  c.num_layers = r.get_int("num_layers", 6, 0, kMaxLayers);
  c.causal = r.get_bool("causal", c.causal);
  c.layer_scale = r.get_optional_number("layer_scale", -1e6, 1e6);
  c.context = r.get_optional_int("context", 1, kMaxContext);
  c.conv_layout = r.get_bool("conv_layout", c.conv_layout);
  c.max_period = r.get_number("max_period", c.max_period, 1e-6, 1e12);
  c.gating = r.get_string("gating", c.gating);
  c.norm = r.get_string("norm", c.norm);
  c.positional_embedding = r.get_string("positional_embedding", c.positional_embedding);
  c.positional_scale = r.get_number("positional_scale", c.positional_scale, -1e6, 1e6);
  c.kv_repeat = r.get_int("kv_repeat", c.kv_repeat, 1, kMaxHeads);
  c.dim_feedforward = r.get_int("dim_feedforward", c.dim_feedforward, 1, 8 * kMaxWidth);
  c.input_dimension = r.require_int("input_dimension", 1, kMaxWidth);
  c.output_dimensions = r.get_int_list("output_dimensions", 1, kMaxWidth, 8);

  if (!c.causal) r.error("causal", "must be true: Mimi streams, so its transformers are causal");
  if (!c.conv_layout) r.error("conv_layout", "must be true: Mimi feeds its transformers [B, C, T] tensors");
  if (c.input_dimension != seanet_dimension)
    r.error("input_dimension",
            str_cat("(", c.input_dimension, ") must equal seanet.dimension (", seanet_dimension, ")"));
  if (c.output_dimensions.size() != 1 || c.output_dimensions[0] != seanet_dimension)
    r.error("output_dimensions",
            str_cat("must be [", seanet_dimension, "]: Mimi reads exactly one transformer output of seanet.dimension"));
  NormKind norm;
  if (!parse_norm_kind(c.norm, &norm)) r.error("norm", "ValueError: Unknown norm type: " + c.norm);
  PosEmb pos;
  if (!parse_pos_emb(c.positional_embedding, &pos))
    r.error("positional_embedding",
            "must be one of sin, rope, sin_rope, rope_concat, none; got '" + c.positional_embedding + "'");
  bool gated;
  Activation act;
  if (!parse_gating(c.gating, &gated, &act)) r.error("gating", "ValueError: Unknown activation " + c.gating);
  c.transformer().validate(r.document());
  return c;
}

double parameter_count(const MimiConfig& c) {
  const SeanetConfig& s = c.seanet;
  double convs = double(s.channels) * s.n_filters * s.kernel_size;
  double width = s.n_filters;
  for (int ratio : s.ratios) {
    double hidden = std::max(1.0, std::floor(width / s.compress));
    convs += s.n_residual_layers * (width * hidden * s.residual_kernel_size + hidden * width);
    convs += width * 2 * width * 2 * ratio;
    width *= 2;
  }
  convs += width * s.dimension * s.last_kernel_size;
  const MimiTransformerConfig& t = c.transformer;
  double layer = 4.0 * t.d_model * t.d_model + 2.0 * t.d_model * t.dim_feedforward;
  double quant = double(c.quantizer.n_q) * c.quantizer.bins * c.quantizer.dimension +
                 4.0 * c.quantizer.dimension * s.dimension;
  return 2 * convs + 2 * layer * t.num_layers + quant + 8.0 * s.dimension * s.dimension;
}

}  // namespace

int SeanetConfig::hop_length() const {
  int hop = 1;
  for (int ratio : ratios) hop *= ratio;
  return hop;
}

TransformerConfig MimiTransformerConfig::transformer() const {
  return TransformerConfig::from_keys(d_model, num_heads, num_layers, kv_repeat, norm, positional_embedding, max_period,
                                      positional_scale, gating, {dim_feedforward}, layer_scale, context);
}

int MimiConfig::frame_size() const { return int(double(sample_rate) / frame_rate); }

int MimiConfig::encoder_steps_per_frame() const { return frame_size() / seanet.hop_length(); }

MimiConfig MimiConfig::from_json(const Json& json, const std::string& document) {
  ConfigReader r(json, document);
  MimiConfig c;
  c.sample_rate = r.require_int("sample_rate", 1, kMaxSampleRate);
  c.channels = r.get_int("channels", 1, 1, 16);
  if (!r.has("frame_rate")) r.error("frame_rate", "is required");
  c.frame_rate = r.get_number("frame_rate", 12.5, 1e-3, kMaxSampleRate);
  c.resample_method = r.get_string("resample_method", c.resample_method);
  c.upsample_channel_wise_bug = r.get_bool("upsample_channel_wise_bug", c.upsample_channel_wise_bug);

  const Json* seanet = r.object("seanet");
  const Json* quantizer = r.object("quantizer");
  const Json* transformer = r.object("transformer");
  if (!seanet) r.error("seanet", "is required");
  if (!quantizer) r.error("quantizer", "is required");
  if (!transformer) r.error("transformer", "is required (Kyutai's get_mimi always builds both transformers)");
  c.seanet = parse_seanet(ConfigReader(*seanet, document + " seanet"));
  c.quantizer = parse_quantizer(ConfigReader(*quantizer, document + " quantizer"), c.seanet.dimension);
  c.transformer = parse_transformer(ConfigReader(*transformer, document + " transformer"), c.seanet.dimension);

  // Cross-key consistency: whole frames of whole encoder steps, an integer resampling stride.
  if (c.channels != 1)
    fail(ErrorCode::Unsupported, document, ": only mono Mimi is supported, got channels ", c.channels);
  if (c.seanet.channels != c.channels)
    r.error("seanet", str_cat("channels (", c.seanet.channels, ") must equal channels (", c.channels, ")"));
  const double exact_frame = double(c.sample_rate) / c.frame_rate;
  if (std::fabs(exact_frame - std::round(exact_frame)) > 1e-9 || exact_frame < 1)
    r.error("frame_rate", str_cat("must divide sample_rate into whole frames: ", c.sample_rate, " / ", c.frame_rate,
                                  " = ", exact_frame, " samples"));
  if (exact_frame > kMaxFrameSize) r.limit("sample_rate / frame_rate", exact_frame, kMaxFrameSize);
  const int hop = c.seanet.hop_length();
  if (c.frame_size() % hop != 0)
    r.error("frame_rate", str_cat("gives frames of ", c.frame_size(), " samples, not a multiple of the SEANet hop ",
                                  hop, " (product of ratios): the resampling stride must be an integer"));
  if (c.encoder_steps_per_frame() > 1 && c.resample_method != "conv")
    fail(ErrorCode::Unsupported, document, ": resample_method '", c.resample_method,
         "' is not supported (Kyutai's get_mimi uses 'conv')");

  double params = parameter_count(c);
  if (params > kMaxParameters)
    fail(ErrorCode::LimitExceeded, document, ": the configuration implies ", params / 1e6,
         "e6 parameters, beyond the limit of ", kMaxParameters / 1e6, "e6");
  return c;
}

MimiConfig MimiConfig::parse(const std::string& text, const std::string& document) {
  return from_json(parse_config_json(text, document), document);
}

const char* released_mimi_config_json() {
  return R"({
  "sample_rate": 24000, "channels": 1, "frame_rate": 12.5,
  "seanet": {"channels": 1, "dimension": 512, "causal": true, "n_filters": 64, "n_residual_layers": 1,
             "activation": "ELU", "compress": 2, "dilation_base": 2, "disable_norm_outer_blocks": 0,
             "kernel_size": 7, "residual_kernel_size": 3, "last_kernel_size": 3, "norm": "none",
             "pad_mode": "constant", "ratios": [8, 6, 5, 4], "true_skip": true},
  "quantizer": {"dimension": 256, "n_q": 32, "bins": 2048, "input_dimension": 512, "output_dimension": 512},
  "transformer": {"d_model": 512, "num_heads": 8, "num_layers": 8, "causal": true, "layer_scale": 0.01,
                  "context": 250, "conv_layout": true, "max_period": 10000, "gating": "none",
                  "norm": "layer_norm", "positional_embedding": "rope", "dim_feedforward": 2048,
                  "input_dimension": 512, "output_dimensions": [512]}
})";
}

}  // namespace kyutai
