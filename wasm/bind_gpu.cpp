// Embind: what the WebGPU backend (web/src/webgpu/) needs from a loaded LM.
//
//   gpuModelInfo(model)           the model's configuration (every value the GPU forward needs)
//                                 and its weight directory: for each tensor its checkpoint name,
//                                 kind, shape, format and where its bytes sit on the WebAssembly
//                                 heap, so JS uploads them with
//                                 queue.writeBuffer(buffer, 0, HEAPU8.buffer, ptr, bytes).
//                                 Linear weights are uploaded as they are packed
//                                 (kernels/packed_matrix.h: panels of 16 rows, f32 / bf16 / q8 /
//                                 both q4 layouts): the WGSL kernels read them directly, so
//                                 nothing is repacked or copied on the CPU side.
//   LmStepper                     one stream of raw LM steps on the WebAssembly side (LmState +
//                                 LmModel::step / depformer_step / extra_heads) whose KV cache JS
//                                 can fill row by row (appendKv): the low-level step API.
//   gpuSyntheticCheckpoint(...)   a small checkpoint for a config (the backend's self-test model).
//   gpuReferenceFrames(...)       the WebAssembly forward of teacher-forced frames (self-test reference);
//                                 a conditioned model (Kyutai's TTS) runs them under a fixed
//                                 test condition, returned with them for the GPU to upload.
//   The GPU sessions themselves are the engine's C++ sessions, staged (bind_sessions.cpp).
//
// Both take the engine's LmModel handle (wasm/handles.h); the stepper keeps the model alive.
#include <cmath>
#include <memory>
#include <optional>

#include "bind_gpu.h"
#include "handles.h"
#include "lm/conditioners.h"
#include "lm/forward.h"
#include "lm/lm_model.h"
#include "lm/lm_stepper.h"
#include "lm/synthetic_checkpoint.h"
#include "nn/norm.h"

namespace kyutai::wasm {

namespace {

val int_list(const std::vector<int>& v) {
  val a = val::array();
  for (size_t i = 0; i < v.size(); ++i) a.set(i, v[i]);
  return a;
}

val transformer_object(const TransformerConfig& t, const std::string& gating, int capacity) {
  val o = val::object();
  o.set("dim", t.d_model);
  o.set("numHeads", t.num_heads);
  o.set("numKvHeads", t.num_kv_heads());
  o.set("headDim", t.head_dim());
  o.set("numLayers", t.num_layers);
  o.set("kvRepeat", t.kv_repeat);
  o.set("norm", std::string(norm_kind_name(t.norm)));
  o.set("rms", is_rms(t.norm));
  o.set("normEps", norm_eps(t.norm));
  o.set("pos", std::string(pos_emb_name(t.positional.kind)));
  o.set("maxPeriod", t.positional.max_period);
  o.set("posScale", t.positional.scale);
  o.set("gating", gating);  // "none" = plain GELU MLP, else the gate's activation
  o.set("gated", t.gated);
  const int sets = t.num_weight_sets();
  std::vector<int> hidden(sets);
  for (int s = 0; s < sets; ++s) hidden[s] = t.ffn_hidden(s);
  o.set("weightSets", sets);
  o.set("ffnHidden", int_list(hidden));
  o.set("weightsPerStep", t.weights_per_step);
  std::vector<int> set_of_step;
  for (int k = 0; k < t.weights_per_step; ++k) set_of_step.push_back(t.weight_set(k));
  o.set("stepWeightSet", int_list(set_of_step));
  o.set("layerScale", bool(t.layer_scale));
  o.set("context", t.context.value_or(0));
  o.set("crossAttention", t.cross_attention);  // its block: LayerNorm with bias whatever `norm` says
  o.set("crossNormEps", norm_eps(NormKind::LayerNorm));
  o.set("capacity", capacity);
  return o;
}

// The model's config as the API shows it (lm_config_object), plus what the GPU forward needs.
val config_info(const LmModel& m) {
  const LmConfig& c = m.config();
  val o = lm_config_object(c);
  o.set("numCodebooks", c.num_codebooks());
  o.set("biasProj", c.bias_proj);
  o.set("normEmb", c.norm_emb);
  o.set("demux", c.demux_second_stream);
  o.set("lowRank", c.depformer_low_rank_embeddings.value_or(0));
  o.set("fusion", std::string(fusion_kind_name(c.audio_fusion)));
  o.set("audioEmbDim", c.audio_emb_dim ? c.audio_emb_dim : c.dim);
  LmGenConfig g = c.lm_gen_config.value_or(LmGenConfig{});
  val gen = val::object();
  gen.set("temp", g.temp);
  gen.set("tempText", g.temp_text);
  gen.set("topK", g.top_k);
  gen.set("topKText", g.top_k_text);
  o.set("lmGen", gen);
  o.set("hasLmGenConfig", bool(c.lm_gen_config));
  o.set("crossAttention", c.cross_attention);
  o.set("conditioned", m.conditioned());
  TransformerConfig main = c.main_transformer();
  int main_capacity = main.context ? *main.context : 0;
  o.set("main", transformer_object(main, c.gating, main_capacity));
  if (c.dep_q > 0) {
    TransformerConfig dep = c.depformer_transformer();
    val d = transformer_object(dep, c.depformer_gating, dep.weights_per_step ? dep.weights_per_step : c.dep_q);
    std::vector<int> in_index(c.dep_q);
    for (int k = 0; k < c.dep_q; ++k) in_index[k] = c.depformer_in_index(k);
    d.set("inIndex", int_list(in_index));
    d.set("inSets", c.depformer_weight_sets());
    if (c.depformer_norm) {
      NormKind k;
      parse_norm_kind(*c.depformer_norm, &k);
      d.set("headNorm", std::string(norm_kind_name(k)));
      d.set("headNormRms", is_rms(k));
      d.set("headNormEps", norm_eps(k));
    } else {
      d.set("headNorm", val::null());
    }
    o.set("depformer", d);
  } else {
    o.set("depformer", val::null());
  }
  return o;
}

val tensor_info(const WeightLoader::TensorRef& t) {
  val o = val::object();
  o.set("name", t.name);
  o.set("shape", int_array(t.shape));
  switch (t.kind) {
    case WeightLoader::Kind::Linear: {
      const Linear& l = *static_cast<const Linear*>(t.target);
      const PackedMatrix& w = l.weight;
      o.set("kind", std::string("linear"));
      o.set("format", std::string(weight_format_name(w.format)));
      // q4 comes in the order the build's CPU kernel reads (packed_matrix.h, Q4Layout): the
      // GPU has a kernel for each.
      o.set("q4Layout", std::string(q4_layout_name(w.q4_layout)));
      o.set("out", w.out);
      o.set("in", w.in);
      o.set("inPadded", w.in_padded);
      o.set("panels", w.panels());
      o.set("native", bool(w.native));  // packed by an external library: no panel bytes
      o.set("ptr", double(uintptr_t(w.data.data())));
      o.set("bytes", double(w.data.bytes()));
      o.set("scalesPtr", double(uintptr_t(w.scales.data())));  // q4 only: q8 keeps its scales in the panels
      o.set("scalesBytes", double(w.scales.bytes()));
      o.set("biasPtr", l.bias.empty() ? 0.0 : double(uintptr_t(l.bias.data())));
      o.set("biasLength", double(l.bias.size()));
      break;
    }
    case WeightLoader::Kind::Vector: {
      const auto& v = *static_cast<const std::vector<float>*>(t.target);
      o.set("kind", std::string("vector"));
      o.set("ptr", double(uintptr_t(v.data())));
      o.set("length", double(v.size()));
      break;
    }
    case WeightLoader::Kind::Table: {
      const EmbeddingTable& e = *static_cast<const EmbeddingTable*>(t.target);
      o.set("kind", std::string("table"));
      o.set("rows", e.rows);
      o.set("width", e.width);
      o.set("format", std::string(e.bf16 ? "bf16" : "f32"));
      o.set("ptr", double(e.bf16 ? uintptr_t(e.bf16_data.data()) : uintptr_t(e.f32_data.data())));
      o.set("bytes", double(e.bytes()));
      break;
    }
  }
  return o;
}

// The self-test's condition of a conditioned model: every LUT None (its learnt padding) and
// every cross-attention conditioner a fixed 3-step pattern, all present.
std::optional<LmConditions> test_conditions(const LmModel& m) {
  if (!m.conditioned()) return std::nullopt;
  ConditionAttributes attributes;
  for (const std::string& name : m.config().fuser.cross) {
    ConditionTensor t;
    t.length = 3;
    t.channels = m.config().conditioner(name)->dim;
    t.values.resize(size_t(t.length) * t.channels);
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] = 0.5f * std::sin(0.7f * float(i) + 0.3f);
    t.mask.assign(t.length, 1);
    attributes.tensors[name] = std::move(t);
  }
  return m.prepare_conditions(attributes);
}

val gpu_model_info(const LmModelHandle& handle) {
  return guarded([&] {
    const LmModel& m = handle.model();
    val r = val::object();
    r.set("modelAddress", double(uintptr_t(&m)));
    r.set("config", config_info(m));
    val tensors = val::array();
    const auto& refs = m.tensors();
    for (size_t i = 0; i < refs.size(); ++i) tensors.set(i, tensor_info(refs[i]));
    r.set("tensors", tensors);
    return r;
  });
}

val gpu_synthetic_checkpoint(std::string config_json, std::string dtype, double seed) {
  return guarded([&] {
    LmConfig c = LmConfig::parse(config_json, "synthetic config");
    DType t;
    if (!parse_dtype(dtype, &t) || (t != DType::F32 && t != DType::BF16 && t != DType::F16))
      fail(ErrorCode::InvalidArgument, "synthetic checkpoint dtype must be F32, BF16 or F16, got '", dtype, "'");
    if (c.parameter_count() > 64e6)
      fail(ErrorCode::LimitExceeded, "gpuSyntheticCheckpoint is for small models (", c.parameter_count(),
           " parameters)");
    std::vector<uint8_t> bytes = synthetic_lm_safetensors(c, t, uint64_t(seed));
    return to_typed_array(bytes);
  });
}

// The WebAssembly reference of the GPU forward, for the backend's kernel self-test and the
// conformance tests: T frames streamed from a fresh state, each with its post-delay tokens
// [T, K] and the Depformer's teacher tokens [T, dep_q] -> {transformerOut [T, dim],
// textLogits [T, text_card_out], depformerLogits [T, dep_q, card], vad [T, heads * dim_e]}.
val gpu_reference_frames(const LmModelHandle& handle, val tokens_js, val teacher_js) {
  return guarded([&] {
    const LmModel& m = handle.model();
    const LmConfig& c = m.config();
    const int K = c.num_codebooks(), Q = c.dep_q, H = c.extra_heads_num_heads * c.extra_heads_dim;
    std::vector<int32_t> tokens = read_int32(tokens_js, "reference tokens");
    std::vector<int32_t> teacher = read_int32(teacher_js, "reference teacher tokens");
    if (tokens.size() % K)
      fail(ErrorCode::InvalidArgument, "reference tokens: ", tokens.size(), " is not a multiple of ", K);
    const size_t T = tokens.size() / K;
    if (teacher.size() != T * Q)
      fail(ErrorCode::InvalidArgument, "reference teacher tokens: expected ", T * Q, ", got ", teacher.size());
    const std::optional<LmConditions> conditions = test_conditions(m);
    LmState state = m.new_state(conditions ? &*conditions : nullptr);
    val conditions_js = stream_conditions_to_js(m, state);
    std::vector<float> out(T * c.dim), text(T * c.text_card_out), dep(T * Q * c.card), vad(T * H);
    for (size_t t = 0; t < T; ++t) {
      float* x = out.data() + t * c.dim;
      m.step(tokens.data() + t * K, state, x, text.data() + t * c.text_card_out);
      if (H) m.extra_heads(x, vad.data() + t * H);
      state.depformer.reset();
      for (int k = 0; k < Q; ++k) m.depformer_step(k, teacher[t * Q + k], x, state, dep.data() + (t * Q + k) * c.card);
    }
    val r = val::object();
    r.set("transformerOut", to_typed_array(out));
    r.set("textLogits", to_typed_array(text));
    r.set("depformerLogits", to_typed_array(dep));
    r.set("vad", to_typed_array(vad));
    r.set("conditions", conditions_js);
    return r;
  });
}

}  // namespace

val frame_request_to_js(const FrameRequest& q) {
  val r = val::object();
  r.set("tokens", to_typed_array(q.tokens));
  r.set("forcedText", q.forced_text ? val(*q.forced_text) : val::null());
  r.set("sampleText", q.sample_text);
  r.set("sampleAudio", q.sample_audio);
  r.set("depformer", q.depformer);
  r.set("codebooks", q.codebooks);
  r.set("vad", q.vad);
  return r;
}

FrameReply frame_reply_from_js(const val& v) {
  if (js_type(v) != "Object") fail(ErrorCode::InvalidArgument, "frame reply: expected an object, got ", js_type(v));
  FrameReply r;
  const auto token = number_option(v, "textToken");
  if (!token || *token != double(int32_t(*token)))
    fail(ErrorCode::InvalidArgument, "frame reply: textToken must be a 32-bit integer");
  r.text_token = int32_t(*token);
  auto present = [&](const char* key) { return !v[key].isUndefined() && !v[key].isNull(); };
  if (present("audioTokens")) r.audio_tokens = read_int32(v["audioTokens"], "frame reply audioTokens");
  if (present("vad")) r.vad = read_float32(v["vad"], "frame reply vad");
  if (present("kvRows")) r.kv_rows = read_float32(v["kvRows"], "frame reply kvRows");
  return r;
}

val stream_conditions_to_js(const LmModel& m, const LmState& s) {
  if (!m.conditioned()) return val::null();
  val r = val::object();
  r.set("sum", s.condition_sum.empty() ? val::null() : to_typed_array(s.condition_sum));
  const CrossSource& cross = s.transformer.cross;
  r.set("crossLength", cross.length);
  val keys = val::array(), values = val::array();
  for (size_t l = 0; l < cross.keys.size(); ++l) {
    keys.set(l, to_typed_array(cross.keys[l]));
    values.set(l, to_typed_array(cross.values[l]));
  }
  r.set("crossKeys", keys);
  r.set("crossValues", values);
  return r;
}

// lm/lm_stepper.h over a shared model: the model stays alive as long as the stepper.
class LmStepperHandle {
 public:
  val init(const LmModelHandle& handle) {
    return guarded([&] {
      std::shared_ptr<const LmModel> m = handle.shared();
      stepper_ = std::make_unique<LmStepper>(*m);
      model_ = std::move(m);
      return val::undefined();
    });
  }
  // A conditioned model's stream under a session's conditions (stream_conditions_to_js's form).
  val init_conditioned(const LmModelHandle& handle, val conditions) {
    return guarded([&] {
      if (js_type(conditions) != "Object")
        fail(ErrorCode::InvalidArgument, "conditions: expected {sum, crossLength, crossKeys, crossValues}, got ",
             js_type(conditions));
      std::vector<float> sum;
      if (!conditions["sum"].isNull() && !conditions["sum"].isUndefined())
        sum = read_float32(conditions["sum"], "conditions sum");
      const int length = int(integer_option(conditions, "crossLength", 0, INT32_MAX).value_or(0));
      auto layers = [&](const char* key) {
        std::vector<std::vector<float>> out;
        const val list = conditions[key];
        const int n = list.isUndefined() || list.isNull() ? 0 : list["length"].as<int>();
        for (int l = 0; l < n; ++l) out.push_back(read_float32(list[l], std::string("conditions ") + key));
        return out;
      };
      std::shared_ptr<const LmModel> m = handle.shared();
      stepper_ = std::make_unique<LmStepper>(*m, sum, length, layers("crossKeys"), layers("crossValues"));
      model_ = std::move(m);
      return val::undefined();
    });
  }
  // tokens [K] (text first) -> {transformerOut, textLogits}
  val step(val tokens) {
    return guarded([&] {
      std::vector<int32_t> t = read_int32(tokens, "model input");
      stepper().step(t.data(), int(t.size()));
      val r = val::object();
      r.set("transformerOut", to_typed_array(stepper_->transformer_out()));
      r.set("textLogits", to_typed_array(stepper_->text_logits()));
      return r;
    });
  }
  val extra_heads(val transformer_out) {
    return guarded([&] {
      std::vector<float> x = read_float32(transformer_out, "transformer output");
      return to_typed_array(stepper().extra_heads(x.data(), int(x.size())));
    });
  }
  // Depformer position k (k = 0 starts a new time step) -> logits [card]
  val depformer_step(int k, int token, val transformer_out) {
    return guarded([&] {
      std::vector<float> x = read_float32(transformer_out, "transformer output");
      return to_typed_array(stepper().depformer_step(k, token, x.data(), int(x.size())));
    });
  }
  // Floats appendKv reads: [layer][k, v][kv_heads * head_dim].
  val kv_row_floats() {
    return guarded([&] {
      stepper();
      return val(kyutai::kv_row_floats(*model_));
    });
  }
  // One position's keys (already rotated) and values of every layer at `ptr` (heap address of
  // kvRowFloats() floats).
  val append_kv(double ptr) {
    return guarded([&] {
      stepper().append_kv(reinterpret_cast<const float*>(uintptr_t(ptr)));
      return val::undefined();
    });
  }
  val offset() {
    return guarded([&] { return val(double(stepper().offset())); });
  }
  val reset() {
    return guarded([&] {
      stepper().reset();
      return val::undefined();
    });
  }

 private:
  LmStepper& stepper() {
    if (!stepper_) fail(ErrorCode::InvalidState, "the stepper is not initialised");
    return *stepper_;
  }
  std::shared_ptr<const LmModel> model_;  // declared first: destroyed after the stepper
  std::unique_ptr<LmStepper> stepper_;
};

EMSCRIPTEN_BINDINGS(kyutai_gpu) {
  using namespace emscripten;
  function("gpuModelInfo", &gpu_model_info);
  function("gpuSyntheticCheckpoint", &gpu_synthetic_checkpoint);
  function("gpuReferenceFrames", &gpu_reference_frames);
  class_<LmStepperHandle>("LmStepper")
      .constructor<>()
      .function("init", &LmStepperHandle::init)
      .function("initConditioned", &LmStepperHandle::init_conditioned)
      .function("step", &LmStepperHandle::step)
      .function("extraHeads", &LmStepperHandle::extra_heads)
      .function("depformerStep", &LmStepperHandle::depformer_step)
      .function("kvRowFloats", &LmStepperHandle::kv_row_floats)
      .function("appendKv", &LmStepperHandle::append_kv)
      .function("offset", &LmStepperHandle::offset)
      .function("reset", &LmStepperHandle::reset);
}

}  // namespace kyutai::wasm
