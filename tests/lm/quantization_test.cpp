// Weight formats against f32 on the conformance checkpoints: top-1 agreement of text and
// audio logits (q8 must agree on >= 99% of positions; q4 and bf16 are reported), and the
// converter's quantized files reproduce load-time quantization exactly.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/quant_blocks.h"
#include "lm/lm_model.h"
#include "lm/lm_stream_loader.h"
#include "lm/quantized_export.h"
#include "lm/sampling.h"
#include "lm_fixture.h"
#include "test_util.h"

using kyutai::test::VTensor;

namespace kyutai {
namespace {

std::unique_ptr<LmModel> load_as(const std::string& dir, WeightFormat format) {
  LoadOptions o;
  o.format = format;
  auto bytes = test::read_file(test::data_path(dir + "/weights.safetensors"));
  return load_lm(test::lm_fixture(dir).config, bytes.data(), bytes.size(), o);
}

// The fixture in `dir` loaded with load-time conversion to `format` (scalar kernels) and
// its weights exported as the converter writes them. `model` receives the loaded model.
std::vector<uint8_t> export_converted(const std::string& dir, WeightFormat format,
                                      const std::vector<std::pair<std::string, std::string>>& metadata,
                                      std::unique_ptr<LmModel>* model) {
  LoadOptions o;
  o.format = format;
  o.use_xnnpack = false;
  LmLoader loader(test::lm_fixture(dir).config, o);
  auto bytes = test::read_file(test::data_path(dir + "/weights.safetensors"));
  SafetensorsFile st(bytes.data(), bytes.size());
  for (const auto& t : st.header().tensors) loader.add_tensor(t, st.tensor_data(t));
  *model = loader.finish();
  std::vector<uint8_t> file;
  export_weights(loader.weights(), metadata, [&](const uint8_t* p, size_t n) { file.insert(file.end(), p, p + n); });
  return file;
}

struct Agreement {
  int same = 0, total = 0;
  double max_diff = 0;
  void add(const std::vector<float>& a, const std::vector<float>& b, int n) {
    for (size_t i = 0; i + n <= a.size(); i += n) {
      if (std::isnan(a[i])) continue;
      same += argmax(a.data() + i, n) == argmax(b.data() + i, n);
      ++total;
    }
    max_diff = std::max(max_diff, test::max_abs_diff(a, b));
  }
  double rate() const { return total ? double(same) / total : 1.0; }
};

// Every teacher-forced position of the `cases` (random-weight logits: many near-ties).
Agreement case_agreement(WeightFormat format) {
  Agreement ag;
  for (const std::string& dir : test::lm_checkpoints()) {
    const LmModel& ref = *test::lm_fixture(dir).model;
    auto q = load_as(dir, format);
    for (const Json& c : test::vectors(dir).at("cases").as_array()) {
      MultistreamInput codes = test::multistream(test::tensor(c.at("codes")));
      LmForward a = ref.forward(codes), b = q->forward(codes);
      ag.add(a.text.text_logits, b.text.text_logits, ref.config().text_card_out);
      ag.add(a.audio_logits, b.audio_logits, ref.config().card);
    }
  }
  return ag;
}

// The decisions of Kyutai's greedy runs (text and every Depformer position at each step, fed
// the reference history): the vectors whose seeds were chosen for a clear top-1 margin.
Agreement decision_agreement(WeightFormat format) {
  Agreement ag;
  for (const std::string& dir : test::lm_checkpoints()) {
    auto q = load_as(dir, format);
    const LmConfig& c = q->config();
    const Json& g = test::vectors(dir).at("greedy_generation");
    VTensor mi = test::tensor(g.at("model_input")), text = test::tensor(g.at("sampled_text"));
    VTensor audio = test::tensor(g.at("sampled_audio")), dep_in = test::tensor(g.at("depformer_input_tokens"));
    const int T = int(mi.shape[2]), K = int(mi.shape[1]), Q = c.dep_q;
    LmState state = q->new_state();
    std::vector<int32_t> column(K);
    std::vector<float> tout(c.dim), logits(c.text_card_out), dep(c.card);
    for (int t = 0; t < T; ++t) {
      for (int k = 0; k < K; ++k) column[k] = int32_t(mi.i[size_t(k) * T + t]);
      q->step(column.data(), state, tout.data(), logits.data());
      ag.same += argmax(logits.data(), c.text_card_out) == text.i[t];
      ++ag.total;
      state.depformer.reset();
      for (int k = 0; k < Q; ++k) {
        q->depformer_step(k, int32_t(dep_in.i[size_t(t) * Q + k]), tout.data(), state, dep.data());
        ag.same += argmax(dep.data(), c.card) == audio.i[size_t(k) * T + t];
        ++ag.total;
      }
    }
  }
  return ag;
}

void report(const char* what, WeightFormat f, const Agreement& ag) {
  std::printf("[ accuracy ] %s vs f32, %s: top-1 agreement %.2f%% of %d positions%s\n", weight_format_name(f), what,
              100 * ag.rate(), ag.total,
              ag.max_diff > 0 ? (", max |logit diff| " + std::to_string(ag.max_diff)).c_str() : "");
}

TEST(Quantization, Q8AgreesWithF32OnAtLeast99PercentOfGreedyDecisions) {
  Agreement decisions = decision_agreement(WeightFormat::Q8);
  Agreement cases = case_agreement(WeightFormat::Q8);
  report("greedy decisions", WeightFormat::Q8, decisions);
  report("all teacher-forced positions", WeightFormat::Q8, cases);
  RecordProperty("q8_top1_decisions", std::to_string(decisions.rate()));
  RecordProperty("q8_top1_all_positions", std::to_string(cases.rate()));
  EXPECT_GE(decisions.rate(), 0.99);
  // Random weights leave near-ties in ordinary positions; even bf16 flips about 1% of them.
  EXPECT_GE(cases.rate(), 0.95);
}

TEST(Quantization, Q4AndBf16AgreementIsReported) {
  for (WeightFormat f : {WeightFormat::Q4, WeightFormat::BF16}) {
    Agreement decisions = decision_agreement(f), cases = case_agreement(f);
    report("greedy decisions", f, decisions);
    report("all teacher-forced positions", f, cases);
    RecordProperty(std::string(weight_format_name(f)) + "_top1_decisions", std::to_string(decisions.rate()));
    EXPECT_GT(decisions.rate(), f == WeightFormat::BF16 ? 0.99 : 0.6);
  }
}

TEST(Quantization, ConvertedFileLoadsToTheSameModelAsLoadTimeQuantization) {
  for (WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    SCOPED_TRACE(weight_format_name(f));
    const std::string dir = "lm-variants/v1_layernorm_sin_plainffn";  // biases, norms, layer scale
    std::unique_ptr<LmModel> model;
    const auto file = export_converted(dir, f, {{"kyutai_wasm.format", weight_format_name(f)}}, &model);
    const size_t source_size = test::read_file(test::data_path(dir + "/weights.safetensors")).size();
    // The fixture's rows are short (64 inputs): q4's 16 bytes of scales per 256 inputs weigh more.
    EXPECT_LT(file.size(), source_size * 0.6) << "the quantized file is smaller";
    SafetensorsFile converted(file.data(), file.size());
    const std::string* layout = converted.header().find_metadata(kStoredLayoutKey);
    ASSERT_NE(layout, nullptr) << "the file says which layout it stores";
    EXPECT_EQ(*layout, std::to_string(kStoredLayout));
    ASSERT_NE(converted.header().find("transformer.layers.0.linear1.weight_scale"), nullptr);
    EXPECT_EQ(converted.header().find("transformer.layers.0.linear1.weight")->dtype,
              f == WeightFormat::Q8 ? DType::I8 : DType::U8);
    auto reloaded = load_lm(test::lm_fixture(dir).config, file.data(), file.size());  // no format asked
    MultistreamInput codes = test::multistream(test::tensor(test::vectors(dir).at("cases").as_array()[0].at("codes")));
    LmForward a = model->forward(codes), b = reloaded->forward(codes);
    EXPECT_EQ(a.audio_logits, b.audio_logits);
    EXPECT_EQ(a.text.text_logits, b.text.text_logits);
  }
}

// The converted file's tensors rewritten with `metadata` as the only header metadata.
std::vector<uint8_t> with_metadata(const std::vector<uint8_t>& file,
                                   const std::vector<std::pair<std::string, std::string>>& metadata) {
  SafetensorsFile converted(file.data(), file.size());
  std::vector<TensorToWrite> tensors;
  for (const auto& t : converted.header().tensors)
    tensors.push_back({t.name, t.dtype, t.shape,
                       std::vector<uint8_t>(converted.tensor_data(t), converted.tensor_data(t) + t.byte_size())});
  return serialize_safetensors(tensors, metadata);
}

// Loads through both paths (whole file, and streamed as the browser does, where the refusal
// must come at the header, before any tensor is converted) and expects INVALID_CHECKPOINT whose
// message holds every one of `parts`.
void expect_refused_at_header(const std::string& dir, const std::vector<uint8_t>& file,
                              const std::vector<std::string>& parts) {
  auto expect_refused = [&](const std::function<void()>& load) {
    try {
      load();
      FAIL() << "the file loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidCheckpoint);
      const std::string m = e.what();
      for (const std::string& part : parts) EXPECT_NE(m.find(part), std::string::npos) << m;
    }
  };
  expect_refused([&] { load_lm(test::lm_fixture(dir).config, file.data(), file.size()); });
  LmStreamLoader streamed(test::lm_fixture(dir).config, LoadOptions{});
  expect_refused(
      [&] { streamed.push(file.data(), 8 + SafetensorsFile(file.data(), file.size()).header().header_bytes); });
}

TEST(Quantization, FileOfAnotherStoredLayoutIsRefusedSayingHowToConvert) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto file = with_metadata(export_converted(dir, WeightFormat::Q4, {}, &model), {{kStoredLayoutKey, "4"}});
  expect_refused_at_header(dir, file, {"layout '4'", "reads layouts 1 (q4 and float only), 2 and 3", "kyutai_convert"});
}

// Layout 1 stored q8 with one scale per row; its q4 is today's.
TEST(Quantization, Layout1Q8FileIsRefusedSayingHowToConvert) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto q8 = export_converted(dir, WeightFormat::Q8, {}, &model);
  for (const auto& metadata : {std::vector<std::pair<std::string, std::string>>{{kStoredLayoutKey, "1"}},
                               std::vector<std::pair<std::string, std::string>>{}}) {
    SCOPED_TRACE(metadata.empty() ? "no layout key" : "layout 1");
    expect_refused_at_header(dir, with_metadata(q8, metadata),
                             {"is q8 with one scale per row", "stored layout 1", "kyutai_convert"});
  }
}

// The converted q4 file rewritten as layouts 1 and 2 stored q4: symmetric blocks, each with
// an F32 scale (here the Q4_K file's s = d sc; the min dropped).
std::vector<uint8_t> as_symmetric_q4(const std::vector<uint8_t>& file,
                                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  SafetensorsFile converted(file.data(), file.size());
  std::vector<TensorToWrite> tensors;
  for (const auto& t : converted.header().tensors) {
    const uint8_t* data = converted.tensor_data(t);
    if (t.dtype != DType::U8 || t.name.size() < 6 || t.name.substr(t.name.size() - 6) != "_scale") {
      tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(data, data + t.byte_size())});
      continue;
    }
    const TensorInfo* w = converted.header().find(t.name.substr(0, t.name.size() - 6));
    const int64_t out = t.shape[0], blocks = w->shape[1] / 16, supers = t.shape[1] / quant::kQ4KScaleBytes;
    std::vector<float> scale(size_t(out * blocks));
    for (int64_t o = 0; o < out; ++o)
      for (int64_t b = 0; b < blocks; ++b) {
        quant::Q4KSuper super;
        quant::load_q4_k_scales(data + (o * supers + b / 8) * quant::kQ4KScaleBytes, &super);
        scale[size_t(o * blocks + b)] = f16_to_f32(super.d) * float(super.sc[b % 8]);
      }
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(scale.data());
    tensors.push_back({t.name, DType::F32, {out, blocks}, std::vector<uint8_t>(bytes, bytes + scale.size() * 4)});
  }
  return serialize_safetensors(tensors, metadata);
}

TEST(Quantization, SymmetricQ4FilesOfLayouts1And2StillLoad) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto q4k = export_converted(dir, WeightFormat::Q4, {}, &model);
  const auto layout2 = as_symmetric_q4(q4k, {{kStoredLayoutKey, "2"}}), keyless = as_symmetric_q4(q4k, {});
  auto a = load_lm(test::lm_fixture(dir).config, layout2.data(), layout2.size());
  auto b = load_lm(test::lm_fixture(dir).config, keyless.data(), keyless.size());
  MultistreamInput codes = test::multistream(test::tensor(test::vectors(dir).at("cases").as_array()[0].at("codes")));
  const auto logits = a->forward(codes).text.text_logits;
  EXPECT_EQ(logits, b->forward(codes).text.text_logits);
  EXPECT_NE(logits, model->forward(codes).text.text_logits) << "the mins were dropped: other weights";
  // Exported again (the model cache does), they keep their symmetric scales.
  std::vector<uint8_t> again;
  export_weights(a->tensors(), {}, [&](const uint8_t* p, size_t n) { again.insert(again.end(), p, p + n); });
  SafetensorsFile reexported(again.data(), again.size());
  EXPECT_EQ(reexported.header().find("text_linear.weight_scale")->dtype, DType::F32);
  EXPECT_EQ(*reexported.header().find_metadata(kStoredLayoutKey), std::to_string(kStoredLayout));
}

// q4 is Q4_K: a U8 record of d, dmin and 6-bit codes per 256 inputs beside the 4-bit codes.
TEST(Quantization, Q4FileStoresQ4KScalesPerSuperBlock) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto file = export_converted(dir, WeightFormat::Q4, {}, &model);
  SafetensorsFile converted(file.data(), file.size());
  const TensorInfo* w = converted.header().find("text_linear.weight");
  const TensorInfo* s = converted.header().find("text_linear.weight_scale");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(w->dtype, DType::U8);
  EXPECT_EQ(s->dtype, DType::U8);
  const int64_t in = w->shape[1] * 2;
  EXPECT_EQ(s->shape, (std::vector<int64_t>{w->shape[0], (in + 255) / 256 * quant::kQ4KScaleBytes}));
}

// q8 scales are fp16 values and stored as F16: 8.5 bits per weight.
TEST(Quantization, Q8FileStoresFp16ScalesPerBlockOf32) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto file = export_converted(dir, WeightFormat::Q8, {}, &model);
  SafetensorsFile converted(file.data(), file.size());
  const TensorInfo* w = converted.header().find("text_linear.weight");
  const TensorInfo* s = converted.header().find("text_linear.weight_scale");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(w->dtype, DType::I8);
  EXPECT_EQ(s->dtype, DType::F16);
  ASSERT_EQ(w->shape[1] % 32, 0);
  EXPECT_EQ(s->shape, (std::vector<int64_t>{w->shape[0], w->shape[1] / 32}));
  EXPECT_DOUBLE_EQ(double(w->byte_size() + s->byte_size()) * 8 / double(w->numel()), 8.5);
}

TEST(Quantization, QuantizedWeightWithoutItsScaleIsNamed) {
  const std::string dir = "lm";
  std::unique_ptr<LmModel> model;
  const auto file = export_converted(dir, WeightFormat::Q8, {}, &model);
  SafetensorsFile converted(file.data(), file.size());
  std::vector<TensorToWrite> kept;
  for (const auto& t : converted.header().tensors)
    if (t.name != "text_linear.weight_scale")
      kept.push_back({t.name, t.dtype, t.shape,
                      std::vector<uint8_t>(converted.tensor_data(t), converted.tensor_data(t) + t.byte_size())});
  auto broken = serialize_safetensors(kept, {{kStoredLayoutKey, std::to_string(kStoredLayout)}});
  try {
    load_lm(test::lm_fixture(dir).config, broken.data(), broken.size());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'text_linear.weight_scale'"), std::string::npos) << e.what();
  }
}

// A weight that comes before its scale (name order, as the engine writes) is placed at once and
// takes its scales later; one that comes after is placed with them. Both give the same model, and
// a scale whose weight never comes is named.
TEST(Quantization, ScalesBeforeOrAfterTheirWeightsLoadTheSameModel) {
  for (WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    SCOPED_TRACE(weight_format_name(f));
    const std::string dir = "lm";
    std::unique_ptr<LmModel> model;
    const auto file = export_converted(dir, f, {}, &model);
    SafetensorsFile converted(file.data(), file.size());
    std::vector<TensorToWrite> scales_first, no_weight;
    for (const auto& t : converted.header().tensors) {
      TensorToWrite copy{t.name, t.dtype, t.shape,
                         std::vector<uint8_t>(converted.tensor_data(t), converted.tensor_data(t) + t.byte_size())};
      const bool scale = t.name.size() > 13 && t.name.compare(t.name.size() - 13, 13, ".weight_scale") == 0;
      scales_first.insert(scale ? scales_first.begin() : scales_first.end(), copy);
      if (t.name != "text_linear.weight") no_weight.push_back(std::move(copy));
    }
    const std::vector<std::pair<std::string, std::string>> meta{{kStoredLayoutKey, std::to_string(kStoredLayout)}};
    auto reordered = serialize_safetensors(scales_first, meta);
    SafetensorsFile check(reordered.data(), reordered.size());
    ASSERT_LT(check.header().find("text_linear.weight_scale")->begin, check.header().find("text_linear.weight")->begin);
    auto reloaded = load_lm(test::lm_fixture(dir).config, reordered.data(), reordered.size());
    MultistreamInput codes = test::multistream(test::tensor(test::vectors(dir).at("cases").as_array()[0].at("codes")));
    LmForward a = model->forward(codes), b = reloaded->forward(codes);
    EXPECT_EQ(a.audio_logits, b.audio_logits);
    EXPECT_EQ(a.text.text_logits, b.text.text_logits);

    auto broken = serialize_safetensors(no_weight, meta);
    try {
      load_lm(test::lm_fixture(dir).config, broken.data(), broken.size());
      FAIL() << "loaded without text_linear.weight";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'text_linear.weight'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kyutai
