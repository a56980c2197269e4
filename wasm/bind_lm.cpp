// Embind: the LM (loading, embeddings, forward) and its streaming sessions.
#include <memory>
#include <optional>

#include "bind_util.h"
#include "io/safetensors.h"
#include "lm/footprint.h"
#include "lm/lm_gen.h"
#include "lm/lm_model.h"
#include "session/asr_session.h"
#include "session/generation_sessions.h"

namespace kyutai::wasm {

namespace {

LoadOptions load_options(const val& o) {
  LoadOptions opt;
  if (o.isUndefined() || o.isNull()) return opt;
  val format = o["format"];
  if (!format.isUndefined() && !format.isNull()) {
    // Checked first: as<std::string>() on a non-string throws a JS BindingError through the
    // WebAssembly frames, skipping C++ destructors (leaked heap and handles).
    if (!format.isString())
      fail(ErrorCode::InvalidArgument, "weight format must be a string (auto, f32, bf16, q8, q4), got ", js_type(format));
    std::string f = format.as<std::string>();
    WeightFormat wf;
    if (f != "auto") {
      if (!parse_weight_format(f, &wf))
        fail(ErrorCode::InvalidArgument, "weight format '", f, "' is not one of auto, f32, bf16, q8, q4");
      opt.format = wf;
    }
  }
  val threads = o["threads"];
  if (!threads.isUndefined()) opt.threads = threads.as<int>();
  return opt;
}

std::optional<TokenTensor> read_tokens(const val& v, const std::string& what) {
  if (v.isNull() || v.isUndefined()) return std::nullopt;
  std::vector<int32_t> data = read_int32(v["data"], what);
  val shape = v["shape"];
  int B = shape[0].as<int>(), T = shape[1].as<int>();
  if (B <= 0 || T < 0 || size_t(B) * size_t(T) != data.size())
    fail(ErrorCode::InvalidArgument, what, ": shape [", B, ", ", T, "] does not match ", data.size(), " values");
  return TokenTensor(B, T, std::move(data));
}

MultistreamInput read_input(const val& in) {
  MultistreamInput m;
  m.text = read_tokens(in["text"], "text tokens");
  val audio = in["audio"];
  if (!audio.isUndefined() && !audio.isNull()) {
    const int n = audio["length"].as<int>();
    for (int c = 0; c < n; ++c) m.audio.push_back(read_tokens(audio[c], "audio codebook " + std::to_string(c)));
  }
  return m;
}

val text_forward(const TextForward& f, const LmConfig& c) {
  val r = val::object();
  r.set("batch", f.batch);
  r.set("time", f.time);
  r.set("embeddingSum", to_typed_array(f.embedding_sum));
  r.set("transformerOut", to_typed_array(f.transformer_out));
  r.set("textLogits", to_typed_array(f.text_logits));
  r.set("extraHeadsProbs", to_typed_array(f.extra_heads_probs));
  return r;
}

val config_object(const LmConfig& c) {
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

}  // namespace

// Streams a safetensors file (or the shards of one, file after file) chunk by chunk into
// the final weight format. With `maxBytes`, the first header is checked against it before
// any tensor is converted, so a model that cannot fit is refused before the download.
class LmLoaderHandle {
 public:
  val init(std::string config_json, val options) {
    return guarded([&] {
      config_ = std::make_unique<LmConfig>(LmConfig::parse(config_json));
      options_ = load_options(options);
      if (!options.isUndefined() && !options.isNull() && !options["maxBytes"].isUndefined())
        max_bytes_ = uint64_t(options["maxBytes"].as<double>());
      loader_ = std::make_unique<LmLoader>(*config_, options_);
      new_stream();
      return val::undefined();
    });
  }
  // Starts the next shard of a sharded checkpoint (model-0000k-of-0000n.safetensors).
  val begin_file() {
    return guarded([&] {
      if (!stream_) fail(ErrorCode::InvalidState, "loader is not initialised or already finished");
      if (stream_->bytes_received() > 0) {
        stream_->finish();
        received_before_ += stream_->bytes_received();
      }
      new_stream();
      return val::undefined();
    });
  }
  // Bytes at `ptr` on the WebAssembly heap (the caller allocates and frees them).
  val push(uintptr_t ptr, size_t size) {
    return guarded([&] {
      if (!stream_) fail(ErrorCode::InvalidState, "loader is not initialised or already finished");
      stream_->push(reinterpret_cast<const uint8_t*>(ptr), size);
      val p = val::object();
      p.set("bytes", double(received_before_ + stream_->bytes_received()));
      p.set("tensors", double(loader_->tensors_loaded()));
      p.set("headerReady", stream_->header_ready());
      if (stream_->header_ready()) p.set("totalBytes", double(stream_->header().data_start() + stream_->header().data_bytes));
      return p;
    });
  }
  std::unique_ptr<LmModel> finish() {
    if (!stream_) fail(ErrorCode::InvalidState, "loader is not initialised or already finished");
    stream_->finish();
    auto model = loader_->finish();
    stream_.reset();
    loader_.reset();
    return model;
  }

 private:
  std::unique_ptr<LmConfig> config_;
  LoadOptions options_;
  void new_stream() {
    stream_ = std::make_unique<SafetensorsStream>(
        [this](const SafetensorsHeader& h) {
          if (max_bytes_ && !checked_) check_lm_fits(*config_, h, options_.format, max_bytes_);
          checked_ = true;
        },
        [this](const TensorInfo& t, const uint8_t* b) { loader_->add_tensor(t, b); });
  }

  std::unique_ptr<LmLoader> loader_;
  std::unique_ptr<SafetensorsStream> stream_;
  uint64_t max_bytes_ = 0;
  uint64_t received_before_ = 0;
  bool checked_ = false;
};

class LmModelHandle {
 public:
  val load(LmLoaderHandle& loader) {
    return guarded([&] {
      model_ = loader.finish();
      return val::undefined();
    });
  }
  val config() const { return guarded([&] { return config_object(model().config()); }); }
  val weight_bytes() const { return guarded([&] { return val(double(model().weight_bytes())); }); }
  val threads() const { return guarded([&] { return val(model().threads()); }); }

  val embedding_sum(val input) const {
    return guarded([&] {
      int B, T;
      std::vector<float> v = model().audio_processing().embedding_sum(read_input(input), model().pool(), &B, &T);
      val r = val::object();
      r.set("values", to_typed_array(v));
      r.set("shape", int_array({B, T, model().config().dim}));
      return r;
    });
  }
  val fuse(val input, double offset) const {
    return guarded([&] {
      FusedEmbeddings f = model().audio_processing().fuse(read_input(input), int64_t(offset), model().pool());
      val r = val::object();
      r.set("values", to_typed_array(f.values));
      r.set("mask", to_typed_array(f.mask));
      r.set("shape", int_array({f.batch, f.length, f.dim}));
      return r;
    });
  }
  val forward_text(val input) const {
    return guarded([&] { return text_forward(model().forward_text(read_input(input)), model().config()); });
  }
  val forward(val codes) const {
    return guarded([&] {
      LmForward f = model().forward(read_input(codes));
      val r = text_forward(f.text, model().config());
      r.set("audioLogits", to_typed_array(f.audio_logits));
      r.set("logits", to_typed_array(f.logits));
      r.set("mask", to_typed_array(f.mask));
      r.set("textMask", to_typed_array(f.text_mask));
      return r;
    });
  }

  const LmModel& model() const {
    if (!model_) fail(ErrorCode::InvalidState, "model is not loaded (or was disposed)");
    return *model_;
  }

 private:
  std::unique_ptr<LmModel> model_;
};

namespace {

GenerationParams generation_params(const LmConfig& c, const val& o) {
  bool sampling = !o.isUndefined() && !o.isNull() && !o["sampling"].isUndefined() && o["sampling"].as<bool>();
  GenerationParams p = GenerationParams::from_config(c, sampling);
  if (o.isUndefined() || o.isNull()) return p;
  auto num = [&](const char* key, auto& dst) {
    val v = o[key];
    if (!v.isUndefined() && !v.isNull()) dst = v.as<std::remove_reference_t<decltype(dst)>>();
  };
  num("temperature", p.audio.temperature);
  num("textTemperature", p.text.temperature);
  num("topK", p.audio.top_k);
  num("textTopK", p.text.top_k);
  double seed = 0;
  num("seed", seed);
  p.seed = uint64_t(seed);
  return p;
}

val generated(const GeneratedFrame& f) {
  val r = val::object();
  r.set("step", double(f.step));
  r.set("textToken", f.text_token);
  r.set("audio", f.has_frame ? to_typed_array(f.audio) : val::null());
  r.set("frameText", f.has_frame ? val(f.frame_text) : val::null());
  return r;
}

}  // namespace

class AsrSessionHandle {
 public:
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      AsrOptions o;
      if (!options.isUndefined() && !options.isNull()) {
        if (!options["temperature"].isUndefined()) o.temperature = options["temperature"].as<float>();
        if (!options["seed"].isUndefined()) o.seed = uint64_t(options["seed"].as<double>());
      }
      session_ = std::make_unique<AsrSession>(model.model(), o);
      return val::undefined();
    });
  }
  val push_frame(val codes) {
    return guarded([&] {
      std::vector<int32_t> frame = read_int32(codes, "audio frame");
      AsrStep s = session().push_frame(frame.data(), int(frame.size()));
      val r = val::object();
      r.set("step", double(s.step));
      r.set("textToken", s.text_token);
      r.set("isPadding", s.is_padding);
      r.set("vad", to_typed_array(s.vad));
      return r;
    });
  }
  val reset() {
    return guarded([&] {
      session().reset();
      return val::undefined();
    });
  }
  AsrSession& session() {
    if (!session_) fail(ErrorCode::InvalidState, "session is not initialised");
    return *session_;
  }

 private:
  std::unique_ptr<AsrSession> session_;
};

class TtsSessionHandle {
 public:
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      session_ = std::make_unique<TtsSession>(model.model(), generation_params(model.model().config(), options));
      return val::undefined();
    });
  }
  val push_text(int token) {
    return guarded([&] { return generated(session().push_text(token)); });
  }
  val reset() {
    return guarded([&] {
      session().reset();
      return val::undefined();
    });
  }
  TtsSession& session() {
    if (!session_) fail(ErrorCode::InvalidState, "session is not initialised");
    return *session_;
  }

 private:
  std::unique_ptr<TtsSession> session_;
};

class DuplexSessionHandle {
 public:
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      session_ = std::make_unique<DuplexSession>(model.model(), generation_params(model.model().config(), options));
      return val::undefined();
    });
  }
  val push_frame(val codes) {
    return guarded([&] {
      std::vector<int32_t> frame = read_int32(codes, "user audio frame");
      return generated(session().push_frame(frame.data(), int(frame.size())));
    });
  }
  val reset() {
    return guarded([&] {
      session().reset();
      return val::undefined();
    });
  }
  DuplexSession& session() {
    if (!session_) fail(ErrorCode::InvalidState, "session is not initialised");
    return *session_;
  }

 private:
  std::unique_ptr<DuplexSession> session_;
};

// The step-level generation API (Kyutai's LMGen), for tests and custom loops.
class LmGenHandle {
 public:
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      gen_ = std::make_unique<LmGen>(model.model(), generation_params(model.model().config(), options));
      return val::undefined();
    });
  }
  val step(val user) {
    return guarded([&] {
      if (!gen_) fail(ErrorCode::InvalidState, "generator is not initialised");
      std::vector<int32_t> frame = read_int32(user, "user audio frame");
      GenStep s = gen_->step(frame.data(), int(frame.size()));
      val r = val::object();
      r.set("modelInput", to_typed_array(s.model_input));
      r.set("textLogits", to_typed_array(s.text_logits));
      r.set("transformerOut", to_typed_array(s.transformer_out));
      r.set("textToken", s.text_token);
      r.set("audioTokens", to_typed_array(s.audio_tokens));
      r.set("depformerLogits", to_typed_array(s.depformer_logits));
      r.set("frame", s.frame.empty() ? val::null() : to_typed_array(s.frame));
      return r;
    });
  }

 private:
  std::unique_ptr<LmGen> gen_;
};

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
      .function("threads", &LmModelHandle::threads)
      .function("embeddingSum", &LmModelHandle::embedding_sum)
      .function("fuse", &LmModelHandle::fuse)
      .function("forwardText", &LmModelHandle::forward_text)
      .function("forward", &LmModelHandle::forward);
  class_<AsrSessionHandle>("AsrSession")
      .constructor<>()
      .function("init", &AsrSessionHandle::init)
      .function("pushFrame", &AsrSessionHandle::push_frame)
      .function("reset", &AsrSessionHandle::reset);
  class_<TtsSessionHandle>("TtsSession")
      .constructor<>()
      .function("init", &TtsSessionHandle::init)
      .function("pushText", &TtsSessionHandle::push_text)
      .function("reset", &TtsSessionHandle::reset);
  class_<DuplexSessionHandle>("DuplexSession")
      .constructor<>()
      .function("init", &DuplexSessionHandle::init)
      .function("pushFrame", &DuplexSessionHandle::push_frame)
      .function("reset", &DuplexSessionHandle::reset);
  class_<LmGenHandle>("LmGen").constructor<>().function("init", &LmGenHandle::init).function("step", &LmGenHandle::step);
}

}  // namespace kyutai::wasm
