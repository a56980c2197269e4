// Loading (layouts, dtypes, validation) and model-level behaviour beyond the vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>

#include "io/json.h"
#include "lm/lm_gen.h"
#include "lm/lm_model.h"
#include "lm/synthetic_checkpoint.h"
#include "lm_fixture.h"
#include "test_util.h"

namespace kyutai {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Rewrites a safetensors file tensor by tensor.
using Rewrite = std::function<void(std::vector<TensorToWrite>&)>;
std::vector<uint8_t> rewrite(const std::vector<uint8_t>& file, const Rewrite& f) {
  SafetensorsFile st(file.data(), file.size());
  std::vector<TensorToWrite> tensors;
  for (const auto& t : st.header().tensors) {
    const uint8_t* p = st.tensor_data(t);
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.byte_size())});
  }
  f(tensors);
  return serialize_safetensors(tensors);
}

void convert_all(std::vector<TensorToWrite>& tensors, DType dtype) {
  for (auto& t : tensors) {
    size_t n = t.data.size() / 4;
    std::vector<uint8_t> out(n * 2);
    for (size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, t.data.data() + 4 * i, 4);
      uint16_t h = dtype == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
    t.data = std::move(out);
    t.dtype = dtype;
  }
}

// Kyutai's released layout: per-step projections concatenated along dim 0, step 0 first.
void concatenate_attention(std::vector<TensorToWrite>& tensors) {
  std::map<std::string, std::vector<std::pair<int, TensorToWrite>>> groups;
  std::vector<TensorToWrite> rest;
  std::regex re(R"((.*\.self_attn\.)(in_projs|out_projs)\.(\d+)\.weight)");
  for (auto& t : tensors) {
    std::smatch m;
    if (std::regex_match(t.name, m, re)) {
      std::string target = m[1].str() + (m[2] == "in_projs" ? "in_proj_weight" : "out_proj.weight");
      groups[target].emplace_back(std::stoi(m[3]), std::move(t));
    } else {
      rest.push_back(std::move(t));
    }
  }
  for (auto& [name, parts] : groups) {
    std::sort(parts.begin(), parts.end(), [](auto& a, auto& b) { return a.first < b.first; });
    TensorToWrite merged{name, parts[0].second.dtype, parts[0].second.shape, {}};
    merged.shape[0] *= int64_t(parts.size());
    for (auto& p : parts) merged.data.insert(merged.data.end(), p.second.data.begin(), p.second.data.end());
    rest.push_back(std::move(merged));
  }
  tensors = std::move(rest);
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

TEST(LmLoading, Bf16AndConcatenatedLayoutMatchF32WithinBf16Tolerance) {
  auto& f = test::lm_fixture("lm");
  auto original = test::read_file(test::data_path("lm/weights.safetensors"));
  MultistreamInput codes = test::multistream(test::tensor(test::vectors("lm").at("cases").as_array()[0].at("codes")));
  LmForward reference = f.model->forward(codes);
  for (DType dtype : {DType::BF16, DType::F16}) {
    SCOPED_TRACE(dtype_name(dtype));
    auto file = rewrite(original, [&](auto& t) {
      convert_all(t, dtype);
      concatenate_attention(t);
    });
    SafetensorsFile st(file.data(), file.size());
    ASSERT_NE(st.header().find("depformer.layers.0.self_attn.in_proj_weight"), nullptr);
    ASSERT_EQ(st.header().find("depformer.layers.0.self_attn.in_projs.0.weight"), nullptr);
    auto model = load_lm(f.config, file.data(), file.size());
    LmForward out = model->forward(codes);
    const double tol = dtype == DType::BF16 ? 0.03 : 0.003;  // relative to the largest logit
    EXPECT_LT(test::max_abs_diff(out.text.text_logits, reference.text.text_logits),
              tol * max_abs(reference.text.text_logits));
    EXPECT_LT(test::max_abs_diff(out.audio_logits, reference.audio_logits), tol * max_abs(reference.audio_logits));
    EXPECT_GT(test::max_abs_diff(out.audio_logits, reference.audio_logits), 0.0) << "the conversion really happened";
  }
}

TEST(LmLoading, ConcatenatedLayoutInF32IsExact) {
  auto& f = test::lm_fixture("lm");
  auto file = rewrite(test::read_file(test::data_path("lm/weights.safetensors")), concatenate_attention);
  auto model = load_lm(f.config, file.data(), file.size());
  MultistreamInput codes = test::multistream(test::tensor(test::vectors("lm").at("cases").as_array()[1].at("codes")));
  EXPECT_EQ(model->forward(codes).audio_logits, f.model->forward(codes).audio_logits);
}

TEST(LmLoading, MissingExtraMisshapedAndWrongDtypeTensorsAreNamed) {
  auto& f = test::lm_fixture("lm");
  auto original = test::read_file(test::data_path("lm/weights.safetensors"));
  auto load = [&](const Rewrite& r) {
    auto file = rewrite(original, r);
    return error_of([&] { load_lm(f.config, file.data(), file.size()); });
  };
  EXPECT_EQ(load([](auto& t) {
              t.erase(std::remove_if(t.begin(), t.end(), [](auto& x) { return x.name == "out_norm.alpha"; }), t.end());
            }),
            "checkpoint is missing 1 tensor: 'out_norm.alpha'");
  EXPECT_EQ(load([](auto& t) {
              t.push_back({"decoder.extra.weight", DType::F32, {2}, std::vector<uint8_t>(8)});
            }),
            "unexpected tensor 'decoder.extra.weight' [2]: this configuration has no such weight");
  EXPECT_EQ(load([](auto& t) {
              for (auto& x : t)
                if (x.name == "text_linear.weight") x.shape = {64, 100};
            }),
            "tensor 'text_linear.weight': expected shape [100, 64], got [64, 100]");
  EXPECT_EQ(load([](auto& t) {
              for (auto& x : t)
                if (x.name == "out_norm.alpha") x.dtype = DType::I32;
            }),
            "tensor 'out_norm.alpha': expected a float dtype (F32, BF16, F16), got I32");
  EXPECT_NE(load([](auto& t) {
              concatenate_attention(t);
              std::vector<TensorToWrite> extra;
              for (auto& x : t)
                if (x.name == "transformer.layers.0.self_attn.in_proj_weight")
                  extra.push_back({"transformer.layers.0.self_attn.in_projs.0.weight", x.dtype, {192, 64}, x.data});
              t.insert(t.end(), extra.begin(), extra.end());
            }).find("give the same weights in two layouts"),
            std::string::npos);
}

TEST(LmModelBehaviour, AudioTokensChangeTheTextLogits) {
  const LmModel& model = *test::lm_fixture("lm").model;
  MultistreamInput codes = test::multistream(test::tensor(test::vectors("lm").at("cases").as_array()[0].at("codes")));
  TextForward with_audio = model.forward_text(codes);
  MultistreamInput text_only{codes.text, {}};
  TextForward without = model.forward_text(text_only);
  EXPECT_GT(test::max_abs_diff(with_audio.text_logits, without.text_logits), 0.05);
}

TEST(LmModelBehaviour, PartialCodebooksRun) {
  const LmModel& model = *test::lm_fixture("lm").model;
  MultistreamInput codes = test::multistream(test::tensor(test::vectors("lm").at("cases").as_array()[0].at("codes")));
  MultistreamInput partial = codes;
  for (int c = 0; c < 16; ++c)
    if (c != 0 && c != 3) partial.audio[c].reset();
  LmForward out = model.forward(partial);
  LmForward full = model.forward(codes);
  EXPECT_EQ(out.logits.size(), full.logits.size());
  EXPECT_GT(test::max_abs_diff(out.text.text_logits, full.text.text_logits), 1e-3);
  // Absent generated codebooks are masked out of the LMOutput view.
  EXPECT_EQ(out.mask[1 * 12 + 0], 0);  // codebook 1 absent
  EXPECT_EQ(out.mask[3 * 12 + 0], 1);  // codebook 3 present, delay 1: t = 0 valid
}

TEST(LmModelBehaviour, BatchItemsAreIndependent) {
  const LmModel& model = *test::lm_fixture("lm").model;
  const auto& cases = test::vectors("lm").at("cases").as_array();
  MultistreamInput a = test::multistream(test::tensor(cases[0].at("codes")));
  MultistreamInput b = test::multistream(test::tensor(cases[1].at("codes")));
  // Same T needed: cut b to a's length (12).
  auto cut = [](TokenTensor t, int T) {
    TokenTensor o(1, T);
    for (int i = 0; i < T; ++i) o.at(0, i) = t.at(0, i);
    return o;
  };
  MultistreamInput both;
  both.text = TokenTensor(2, 12);
  for (int t = 0; t < 12; ++t) {
    both.text->at(0, t) = a.text->at(0, t);
    both.text->at(1, t) = cut(*b.text, 12).at(0, t);
  }
  for (int c = 0; c < 16; ++c) {
    TokenTensor x(2, 12);
    for (int t = 0; t < 12; ++t) {
      x.at(0, t) = a.audio[c]->at(0, t);
      x.at(1, t) = b.audio[c]->at(0, t);
    }
    both.audio.push_back(x);
  }
  LmForward batched = model.forward(both), single = model.forward(a);
  std::vector<float> first(batched.audio_logits.begin(), batched.audio_logits.begin() + single.audio_logits.size());
  EXPECT_EQ(first, single.audio_logits);
}

// Threads split the products' panels and the attention heads; each output is still summed in
// the same order, so a threaded model gives exactly one thread's logits. The model is big
// enough for both splits to happen (the pool only splits work worth a wake-up).
TEST(LmModelBehaviour, ThreadsGiveTheSameLogitsAsOneThread) {
  LmConfig config = LmConfig::parse(R"({"dim": 256, "text_card": 300, "n_q": 4, "dep_q": 2, "card": 64,
      "num_heads": 4, "num_layers": 2, "hidden_scale": 4.125, "context": 64, "gating": "silu",
      "norm": "rms_norm_f32", "positional_embedding": "rope", "depformer_dim": 128, "depformer_num_heads": 4,
      "depformer_num_layers": 1, "depformer_multi_linear": true, "depformer_weights_per_step": true,
      "depformer_pos_emb": "none", "delays": [0, 0, 1, 1, 1]})");
  const std::vector<uint8_t> file = synthetic_lm_safetensors(config, DType::F32, 3);
  const int T = 16;
  MultistreamInput codes;
  codes.text = TokenTensor(1, T);
  for (int t = 0; t < T; ++t) codes.text->data[t] = (7 * t + 1) % config.text_card;
  for (int c = 0; c < config.n_q; ++c) {
    TokenTensor x(1, T);
    for (int t = 0; t < T; ++t) x.data[t] = (5 * t + 3 * c) % config.card;
    codes.audio.push_back(x);
  }
  for (WeightFormat format : {WeightFormat::F32, WeightFormat::Q8}) {
    SCOPED_TRACE(weight_format_name(format));
    LoadOptions options;
    options.format = format;
    options.use_xnnpack = false;  // the same kernels on both sides
    auto single = load_lm(config, file.data(), file.size(), options);
    options.threads = 3;
    auto threaded = load_lm(config, file.data(), file.size(), options);
    LmForward a = single->forward(codes), b = threaded->forward(codes);
    EXPECT_EQ(a.text.text_logits, b.text.text_logits);
    EXPECT_EQ(a.audio_logits, b.audio_logits);
    EXPECT_GT(max_abs(a.text.text_logits), 0.0) << "the logits are not all zero";
  }
}

std::string tiny_config(const std::string& extra) {
  return R"({"dim": 16, "text_card": 20, "n_q": 2, "dep_q": 2, "card": 8, "num_heads": 2, "num_layers": 1,
             "hidden_scale": 4.125, "context": 4, "gating": "silu", "norm": "rms_norm_f32",
             "positional_embedding": "rope", "depformer_dim": 8, "depformer_num_heads": 2,
             "depformer_num_layers": 1, "depformer_multi_linear": true, "depformer_weights_per_step": true,
             "depformer_pos_emb": "none", "delays": [0, 0, 1])" +
         extra + "}";
}

// The bandwidth floor counts, and the benchmark reads in place, the matrices a frame streams:
// every linear layer of the model (temporal transformer, text head, Depformer), each once;
// embedding tables are only gathered.
TEST(LmModelBehaviour, FrameStreamsEveryLinearOnce) {
  for (const char* dir : {"lm", "stt"}) {
    SCOPED_TRACE(dir);
    const LmModel& model = *test::lm_fixture(dir).model;
    std::multiset<const PackedMatrix*> visited;
    size_t bytes = 0;
    model.for_each_streamed_matrix([&](const PackedMatrix& m) {
      visited.insert(&m);
      bytes += m.bytes();
    });
    std::multiset<const PackedMatrix*> linears;
    for (const auto& t : model.tensors())
      if (t.kind == WeightLoader::Kind::Linear) linears.insert(&static_cast<const Linear*>(t.target)->weight);
    EXPECT_EQ(visited, linears);
    EXPECT_EQ(model.bytes_read_per_frame(), bytes);
  }
}

TEST(LmConfigRejects, CombinationsKyutaiRejectsWithItsReason) {
  auto err = [](const std::string& extra) { return error_of([&] { LmConfig::parse(tiny_config(extra)); }); };
  EXPECT_EQ(err(""), "(no error)");
  EXPECT_NE(err(R"(, "depformer_gating": "none")").find("weights_per_step without gating not supported"),
            std::string::npos);
  EXPECT_NE(err(R"(, "kv_repeat": 3, "num_heads": 4)").find("kv_repeat 3 must divide num_heads 4"), std::string::npos);
  EXPECT_NE(err(R"(, "demux_second_stream": true, "norm_emb": true)").find("cannot be combined with norm_emb"),
            std::string::npos);
  EXPECT_NE(err(R"(, "depformer_weights_per_step_schedule": [0, 1, 1])").find("expected dep_q = 2"), std::string::npos);
  EXPECT_NE(err(R"(, "norm": "batch_norm")").find("ValueError: Unknown norm type: batch_norm"), std::string::npos);
  EXPECT_NE(err(R"(, "gating": "swiglu")").find("ValueError: Unknown activation swiglu"), std::string::npos);
  EXPECT_NE(err(R"(, "positional_embedding": "alibi")").find("'positional_embedding' must be one of"),
            std::string::npos);
  EXPECT_NE(err(R"(, "bias_ff": false)").find("unexpected keyword argument"), std::string::npos);
  EXPECT_NE(err(R"(, "bias_attn": true)").find("'bias_attn' is not supported"), std::string::npos);
  EXPECT_NE(err(R"(, "cross_attention": true)").find("'cross' list is empty"), std::string::npos);
  EXPECT_NE(err(R"(, "dim": "64")").find("'dim' must be an integer, got string"), std::string::npos);
}

TEST(LmConfigRejects, NoPerStepDepformerWeightsForwardsButCannotStream) {
  LmConfig c = LmConfig::parse(tiny_config("").replace(tiny_config("").find(R"("depformer_weights_per_step": true)"),
                                                       34, R"("depformer_weights_per_step": false)"));
  auto file = synthetic_lm_safetensors(c, DType::F32, 1);
  auto model = load_lm(c, file.data(), file.size());
  MultistreamInput codes;
  codes.text = TokenTensor(1, 3, 1);
  codes.audio = {TokenTensor(1, 3, 2), TokenTensor(1, 3, 3)};
  EXPECT_EQ(model->forward(codes).audio_logits.size(), 2u * 3 * 8);
  EXPECT_EQ(error_of([&] { LmGen gen(*model, GenerationParams{}); }),
            "Cannot create a streaming KVCache without a context to estimate capacity (context is null)");
}

TEST(LmConfigRejects, RmsDepformerNormStreamsButCannotRunTeacherForced) {
  LmConfig c = LmConfig::parse(tiny_config(R"(, "depformer_norm": "rms_norm")"));
  auto file = synthetic_lm_safetensors(c, DType::F32, 1);
  auto model = load_lm(c, file.data(), file.size());
  MultistreamInput codes;
  codes.text = TokenTensor(1, 3, 1);
  EXPECT_NE(error_of([&] { model->forward(codes); }).find("RMSNorm expects 3D inputs"), std::string::npos);
  LmGen gen(*model, GenerationParams{});
  std::vector<int32_t> none;
  GenStep s = gen.step(none.data(), 0);
  EXPECT_EQ(s.audio_tokens.size(), 2u);
}

}  // namespace
}  // namespace kyutai
