// Embind: the LM (loading, embeddings, forward, weight export); its sessions are in bind_sessions.cpp.
#include <cstring>
#include <memory>
#include <optional>

#include "handles.h"
#include "io/content_hash.h"
#include "lm/footprint.h"
#include "lm/quantized_export.h"

namespace kyutai::wasm {

namespace {

std::optional<TokenTensor> read_tokens(const val& v, const std::string& what) {
  if (v.isNull() || v.isUndefined()) return std::nullopt;
  std::vector<int32_t> data = read_int32(v["data"], what);
  val shape = v["shape"];
  if (js_type(shape) != "Array" || !shape[0].isNumber() || !shape[1].isNumber())
    fail(ErrorCode::InvalidArgument, what, ": shape must be an array [B, T] of numbers");
  const double B = shape[0].as<double>(), T = shape[1].as<double>();
  if (!(B >= 1) || !(T >= 0) || B * T != double(data.size()))
    fail(ErrorCode::InvalidArgument, what, ": shape [", B, ", ", T, "] does not match ", data.size(), " values");
  return TokenTensor(int(B), int(T), std::move(data));
}

MultistreamInput read_input(const val& in) {
  if (js_type(in) != "Object") fail(ErrorCode::InvalidArgument, "expected an object {text, audio}, got ", js_type(in));
  MultistreamInput m;
  m.text = read_tokens(in["text"], "text tokens");
  val audio = in["audio"];
  if (!audio.isUndefined() && !audio.isNull()) {
    if (js_type(audio) != "Array") fail(ErrorCode::InvalidArgument, "audio must be an array of codebooks");
    const int n = audio["length"].as<int>();
    for (int c = 0; c < n; ++c) m.audio.push_back(read_tokens(audio[c], "audio codebook " + std::to_string(c)));
  }
  return m;
}

val text_forward(const TextForward& f) {
  val r = val::object();
  r.set("batch", f.batch);
  r.set("time", f.time);
  r.set("embeddingSum", to_typed_array(f.embedding_sum));
  r.set("transformerOut", to_typed_array(f.transformer_out));
  r.set("textLogits", to_typed_array(f.text_logits));
  r.set("extraHeadsProbs", to_typed_array(f.extra_heads_probs));
  return r;
}

}  // namespace

// The model's configuration as JavaScript sees it (camel-cased keys, derived values).
val lm_config_object(const LmConfig& c) {
  val o = val::object();
  o.set("dim", c.dim);
  o.set("textCard", c.text_card);
  o.set("textCardOut", c.text_card_out);
  o.set("nQ", c.n_q);
  o.set("depQ", c.dep_q);
  o.set("card", c.card);
  o.set("numLayers", c.num_layers);
  o.set("context", c.context.value_or(0));
  o.set("maxDelay", c.max_delay());
  o.set("delays", int_array(std::vector<int64_t>(c.delays.begin(), c.delays.end())));
  o.set("extraHeads", c.extra_heads_num_heads);
  o.set("extraHeadsDim", c.extra_heads_dim);
  o.set("textPaddingId", c.existing_text_padding_id);
  o.set("textEndPaddingId", c.existing_text_end_padding_id);
  o.set("asrDelayInTokens", c.effective_asr_delay_in_tokens());
  o.set("audioDelaySeconds", c.stt_config ? c.stt_config->audio_delay_seconds : 0.0);
  o.set("audioSilencePrefixSeconds", c.stt_config ? c.stt_config->audio_silence_prefix_seconds : 0.0);
  o.set("modelType", c.model_type);
  o.set("tokenizerName", c.tokenizer_name);
  return o;
}

// ---- LmLoader ----------------------------------------------------------------------------

// options: those of every loader, and `maxBytes` (lm/lm_stream_loader.h).
val LmLoaderHandle::init(std::string config_json, val options) {
  return guarded([&] {
    uint64_t max_bytes = 0;
    if (auto m = number_option(options, "maxBytes")) max_bytes = uint64_t(*m);
    loader_ = std::make_unique<LmStreamLoader>(LmConfig::parse(config_json), load_options(options), max_bytes);
    return val::undefined();
  });
}

LmStreamLoader& LmLoaderHandle::loader() {
  if (!loader_) fail(ErrorCode::InvalidState, "loader is not initialised or already finished");
  return *loader_;
}

// Starts the next shard of a sharded checkpoint (model-0000k-of-0000n.safetensors).
val LmLoaderHandle::begin_file() {
  return guarded([&] {
    loader().begin_file();
    return val::undefined();
  });
}

// Bytes at `ptr` on the WebAssembly heap (the caller allocates and frees them).
val LmLoaderHandle::push(uintptr_t ptr, size_t size) {
  return guarded([&] {
    StreamProgress s = loader().push(reinterpret_cast<const uint8_t*>(ptr), size);
    val p = val::object();
    p.set("bytes", double(s.bytes));
    p.set("tensors", double(s.tensors));
    p.set("headerReady", s.header_ready);
    if (s.header_ready) p.set("totalBytes", double(s.total_bytes));
    p.set("contentHash", val(hex64(s.content_hash)));
    return p;
  });
}

std::shared_ptr<const LmModel> LmLoaderHandle::finish() {
  std::shared_ptr<const LmModel> model = loader().finish();
  loader_.reset();
  return model;
}

// ---- LmModel -----------------------------------------------------------------------------

val LmModelHandle::load(LmLoaderHandle& loader) {
  return guarded([&] {
    model_ = loader.finish();
    return val::undefined();
  });
}

val LmModelHandle::config() const {
  return guarded([&] { return lm_config_object(model().config()); });
}
val LmModelHandle::weight_bytes() const {
  return guarded([&] { return val(double(model().weight_bytes())); });
}
val LmModelHandle::threads() const {
  return guarded([&] { return val(model().threads()); });
}
val LmModelHandle::kv_cache() const {
  return guarded([&] { return val(std::string(kv_format_name(model().kv_format()))); });
}
// Weight bytes one streaming frame reads (the numerator of the bandwidth floor).
val LmModelHandle::bytes_read_per_frame() const {
  return guarded([&] { return val(double(model().bytes_read_per_frame())); });
}

val LmModelHandle::embedding_sum(val input) const {
  return guarded([&] {
    int B, T;
    std::vector<float> v = model().audio_processing().embedding_sum(read_input(input), model().pool(), &B, &T);
    val r = val::object();
    r.set("values", to_typed_array(v));
    r.set("shape", int_array({B, T, model().config().dim}));
    return r;
  });
}

val LmModelHandle::fuse(val input, double offset) const {
  return guarded([&] {
    FusedEmbeddings f = model().audio_processing().fuse(read_input(input), int64_t(offset), model().pool());
    val r = val::object();
    r.set("values", to_typed_array(f.values));
    r.set("mask", to_typed_array(f.mask));
    r.set("shape", int_array({f.batch, f.length, f.dim}));
    return r;
  });
}

val LmModelHandle::forward_text(val input) const {
  return guarded([&] { return text_forward(model().forward_text(read_input(input))); });
}

val LmModelHandle::forward(val codes) const {
  return guarded([&] {
    LmForward f = model().forward(read_input(codes));
    val r = text_forward(f.text);
    r.set("audioLogits", to_typed_array(f.audio_logits));
    r.set("logits", to_typed_array(f.logits));
    r.set("mask", to_typed_array(f.mask));
    r.set("textMask", to_typed_array(f.text_mask));
    return r;
  });
}

// The loaded weights as a safetensors file in their final format, handed to `on_chunk`
// (a JS function taking a Uint8Array view that is only valid during the call) piece by
// piece: the model cache stores a converted model without ever holding a second copy.
val LmModelHandle::export_weights(val on_chunk) const {
  return guarded([&] {
    if (js_type(on_chunk) != "function") fail(ErrorCode::InvalidArgument, "exportWeights needs a function");
    double total = 0;
    kyutai::export_weights(model().tensors(), {{"kyutai_wasm.export", "1"}}, [&](const uint8_t* p, size_t n) {
      on_chunk(val(emscripten::typed_memory_view(n, p)));
      total += double(n);
    });
    return val(total);
  });
}

EMSCRIPTEN_BINDINGS(kyutai_lm) {
  using namespace emscripten;
  class_<LmLoaderHandle>("LmLoader")
      .constructor<>()
      .function("init", &LmLoaderHandle::init)
      .function("beginFile", &LmLoaderHandle::begin_file)
      .function("push", &LmLoaderHandle::push);
  class_<LmModelHandle>("LmModel")
      .constructor<>()
      .function("load", &LmModelHandle::load)
      .function("config", &LmModelHandle::config)
      .function("weightBytes", &LmModelHandle::weight_bytes)
      .function("bytesReadPerFrame", &LmModelHandle::bytes_read_per_frame)
      .function("threads", &LmModelHandle::threads)
      .function("kvCache", &LmModelHandle::kv_cache)
      .function("embeddingSum", &LmModelHandle::embedding_sum)
      .function("fuse", &LmModelHandle::fuse)
      .function("forwardText", &LmModelHandle::forward_text)
      .function("forward", &LmModelHandle::forward)
      .function("exportWeights", &LmModelHandle::export_weights);
}

}  // namespace kyutai::wasm
