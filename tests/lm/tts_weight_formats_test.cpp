// The TTS model (cross-attention, conditioners) in every weight format: load-time conversion
// stays close to f32, and the converter's pre-quantized file (cross-attention q/k/v split)
// reloads to the very same logits.
#include <gtest/gtest.h>

#include <cstdio>

#include "io/safetensors.h"
#include "lm/conditioners.h"
#include "lm/lm_model.h"
#include "lm/quantized_export.h"
#include "lm/sampling.h"
#include "test_util.h"

namespace kyutai {
namespace {

struct Loaded {
  LmConfig config;
  std::unique_ptr<LmModel> model;
};

Loaded load_tts(std::optional<WeightFormat> format, std::vector<uint8_t>* exported = nullptr) {
  Loaded l;
  l.config = LmConfig::parse(test::read_text(test::data_path("tts/config.json")));
  LoadOptions o;
  o.format = format;
  o.use_xnnpack = false;
  LmLoader loader(l.config, o);
  auto bytes = test::read_file(test::data_path("tts/weights.safetensors"));
  SafetensorsFile st(bytes.data(), bytes.size());
  for (const auto& t : st.header().tensors) loader.add_tensor(t, st.tensor_data(t));
  l.model = loader.finish();
  if (exported)
    export_weights(loader.weights(), {},
                   [&](const uint8_t* p, size_t n) { exported->insert(exported->end(), p, p + n); });
  return l;
}

LmForward teacher_forced(const Loaded& l) {
  auto voice_bytes = test::read_file(test::data_path("tts/voice_a.safetensors"));
  Voice voice = load_voice(voice_bytes.data(), voice_bytes.size());
  LmConditions cond = l.model->prepare_conditions(tts_condition_attributes(l.config, {voice}, 2.0));
  const Json& c = test::vectors("tts").at("cases").at("teacher_forced");
  return l.model->forward(test::multistream(test::tensor(c.at("codes"))), false, &cond);
}

int top1_agreement(const std::vector<float>& a, const std::vector<float>& b, int n) {
  int same = 0;
  for (size_t i = 0; i + n <= a.size(); i += n) same += argmax(a.data() + i, n) == argmax(b.data() + i, n);
  return same;
}

TEST(TtsWeightFormats, EveryFormatStaysCloseToF32) {
  LmForward ref = teacher_forced(load_tts(std::nullopt));
  const int V = 100, T = 14;
  for (WeightFormat f : {WeightFormat::BF16, WeightFormat::Q8, WeightFormat::Q4}) {
    SCOPED_TRACE(weight_format_name(f));
    LmForward out = teacher_forced(load_tts(f));
    const double diff = test::max_abs_diff(out.text.text_logits, ref.text.text_logits);
    EXPECT_GT(diff, 0.0) << "the weights were converted";
    EXPECT_LT(diff, f == WeightFormat::Q4 ? 1.0 : 0.1);  // q4 on dim 64: 32-value blocks, few per row
    std::printf("[ tts %s ] max |text logit - f32| = %.4g\n", weight_format_name(f), diff);
    EXPECT_GE(top1_agreement(out.text.text_logits, ref.text.text_logits, V), f == WeightFormat::Q4 ? T - 3 : T - 1);
  }
}

TEST(TtsWeightFormats, ConvertedQ8FileReloadsToTheSameLogits) {
  std::vector<uint8_t> file;
  Loaded q8 = load_tts(WeightFormat::Q8, &file);
  SafetensorsFile st(file.data(), file.size());
  EXPECT_EQ(st.header().find("transformer.layers.0.cross_attention.in_projs.0.k.weight")->dtype, DType::I8);
  Loaded reloaded;
  reloaded.config = q8.config;
  LoadOptions o;
  o.use_xnnpack = false;
  reloaded.model = load_lm(q8.config, file.data(), file.size(), o);
  LmForward a = teacher_forced(q8), b = teacher_forced(reloaded);
  EXPECT_EQ(a.text.text_logits, b.text.text_logits);
  EXPECT_EQ(a.audio_logits, b.audio_logits);
}

}  // namespace
}  // namespace kyutai
