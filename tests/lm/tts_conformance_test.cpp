// Kyutai's TTS LM against the outputs of its own code (tests/data/tts, copied from
// ../shared/conformance/tts): conditioners, fuser, cross-attention layers, teacher-forced forward.
#include <gtest/gtest.h>

#include <cstdio>

#include "lm/conditioners.h"
#include "lm/delays.h"
#include "lm/lm_model.h"
#include "lm_fixture.h"
#include "session/tts_generate.h"
#include "test_util.h"
#include "text/sentencepiece.h"
#include "text/tts_script.h"

namespace kyutai {
namespace {

using test::max_abs_diff;
using test::tensor;
using test::VTensor;

using test::TtsFixture;

TtsFixture& fixture(const std::string& name = "") { return test::tts_fixture(name); }

const Json& cases() { return test::vectors("tts").at("cases"); }

LmConditions voice_a_cfg2(const TtsFixture& f) {
  return f.model->prepare_conditions(tts_condition_attributes(f.config, {f.voice}, 2.0));
}

TEST(TtsConfig, ParsesConditionersFuserAndTtsConfig) {
  const LmConfig& c = fixture().config;
  EXPECT_TRUE(c.cross_attention);
  ASSERT_EQ(c.conditioners.size(), 3u);
  const ConditionerConfig* cfg = c.conditioner("cfg");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->kind, ConditionerKind::Lut);
  EXPECT_EQ(cfg->n_bins, 7);
  EXPECT_EQ(cfg->dim, 16);
  EXPECT_EQ(cfg->possible_values.front(), "1.0");
  EXPECT_EQ(c.conditioner("speaker_wavs")->kind, ConditionerKind::Tensor);
  EXPECT_EQ(c.conditioner("speaker_wavs")->dim, 32);
  EXPECT_EQ(c.fuser.sum, (std::vector<std::string>{"control", "cfg"}));
  EXPECT_EQ(c.fuser.cross, (std::vector<std::string>{"speaker_wavs"}));
  EXPECT_TRUE(c.fuser.cross_attention_pos_emb);
  ASSERT_TRUE(c.tts_config);
  EXPECT_EQ(c.tts_config->delay_steps(), 4);
  EXPECT_EQ(c.tts_config->second_stream_ahead, 2);
  EXPECT_EQ(c.tts_config->max_speakers, 5);
  EXPECT_EQ(c.model_id->sig, "0racle00");
  EXPECT_TRUE(c.demux_second_stream);
  EXPECT_EQ(fixture("_nocfg").config.conditioner("cfg"), nullptr);
}

TEST(TtsConfig, BadConditioningIsRefusedNamingTheKey) {
  std::string base = test::read_text(test::data_path("tts/config.json"));
  auto err = [&](const std::string& from, const std::string& to) {
    std::string text = base;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    try {
      LmConfig::parse(text);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidConfig);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(err(R"("type": "lut")", R"("type": "t5")").find("must be 'lut' or 'tensor'"), std::string::npos);
  EXPECT_NE(err(R"("n_bins": 7)", R"("n_bins": 6)").find("expected n_bins = 6"), std::string::npos);
  EXPECT_NE(
      err("\"cross\": [\n      \"speaker_wavs\"", "\"cross\": [\n      \"voice\"").find("'voice', which is not in"),
      std::string::npos);
  EXPECT_NE(err(R"("prepend": [])", R"("prepend": ["cfg"])").find("'prepend' is not supported"), std::string::npos);
  EXPECT_NE(err(R"("cross_attention": true)", R"("cross_attention": false)").find("'cross_attention' is false"),
            std::string::npos);
}

TEST(TtsConditions, LutTablesMatchKyutaiForEveryValueAndNone) {
  TtsFixture& f = fixture();
  const Json& tables = test::vectors("tts").at("lut_tables");
  for (const char* name : {"cfg", "control"}) {
    const Json& t = tables.at(name);
    VTensor expected = tensor(t.at("condition"));
    const auto& values = t.at("values").as_array();
    const int D = f.config.dim;
    for (size_t i = 0; i < values.size(); ++i) {
      std::optional<std::string> v;
      if (!values[i].is_null()) v = values[i].as_string();
      std::vector<float> got = f.model->conditioners().lut(name, v, f.model->pool());
      std::vector<float> want(expected.f.begin() + i * D, expected.f.begin() + (i + 1) * D);
      EXPECT_LT(max_abs_diff(got, want), 1e-5) << name << " value " << i;
    }
  }
  EXPECT_THROW(f.model->conditioners().lut("cfg", std::string("5.0"), f.model->pool()), Error);
}

TEST(TtsConditions, VoiceSlotsConditionsSumAndCrossSourceMatchKyutai) {
  TtsFixture& f = fixture();
  const Json& c = cases().at("conditions");
  VTensor voice = tensor(c.at("voice_file_speaker_wavs"));
  EXPECT_EQ(max_abs_diff(f.voice.latent, voice.f), 0.0);
  ConditionAttributes a = tts_condition_attributes(f.config, {f.voice}, 2.0);
  const ConditionTensor& slots = a.tensors.at("speaker_wavs");
  EXPECT_EQ(max_abs_diff(slots.values, tensor(c.at("speaker_wavs_input_tensor")).f), 0.0);
  VTensor mask = tensor(c.at("speaker_wavs_input_mask"));
  for (size_t i = 0; i < mask.i.size(); ++i) EXPECT_EQ(slots.mask[i], mask.i[i]) << i;
  EXPECT_EQ(*a.text.at("cfg"), "2.0");
  EXPECT_EQ(*a.text.at("control"), "ok");

  ThreadPool* pool = f.model->pool();
  EXPECT_LT(max_abs_diff(f.model->conditioners().lut("cfg", std::string("2.0"), pool), tensor(c.at("cfg_condition")).f),
            1e-5);
  EXPECT_LT(max_abs_diff(f.model->conditioners().tensor("speaker_wavs", slots, pool),
                         tensor(c.at("speaker_wavs_condition")).f),
            1e-5);
  LmConditions cond = f.model->prepare_conditions(a);
  EXPECT_LT(max_abs_diff(cond.sum, tensor(c.at("sum_condition")).f), 1e-5);
  EXPECT_EQ(cond.cross_length, 50);
  EXPECT_LT(max_abs_diff(cond.cross, tensor(c.at("cross_attention_src")).f), 1e-5);

  LmConditions null = f.model->prepare_conditions(null_condition_attributes(a));
  EXPECT_LT(max_abs_diff(null.sum, tensor(c.at("null_sum_condition")).f), 1e-5);
  EXPECT_LT(max_abs_diff(null.cross, tensor(c.at("null_cross_attention_src")).f), 1e-5);
}

TEST(TtsConditions, BadVoicesAndCfgValuesAreRefused) {
  TtsFixture& f = fixture();
  Voice short_voice = f.voice;
  short_voice.length = 5;
  short_voice.latent.resize(size_t(32) * 5);
  EXPECT_THROW(tts_condition_attributes(f.config, {f.voice, short_voice}, 2.0), Error);
  EXPECT_THROW(tts_condition_attributes(f.config, std::vector<Voice>(6, f.voice), 2.0), Error);
  EXPECT_THROW(tts_condition_attributes(f.config, {f.voice}, 2.2), Error);
  EXPECT_THROW(f.model->new_state(), Error);  // a conditioned model needs its conditions
}

TEST(TtsTeacherForced, EveryLayerMatchesKyutai) {
  TtsFixture& f = fixture();
  const Json& c = cases().at("teacher_forced");
  LmConditions cond = voice_a_cfg2(f);
  LmForward out = f.model->forward(test::multistream(tensor(c.at("codes"))), true, &cond);
  EXPECT_LT(max_abs_diff(out.text.embedding_sum, tensor(c.at("embedding_sum")).f), 1e-5);
  ASSERT_EQ(out.text.layer_updates.size(), 4u);
  for (int l = 0; l < 2; ++l) {
    std::string p = "layer" + std::to_string(l) + "_";
    EXPECT_LT(max_abs_diff(out.text.layer_updates[2 * l], tensor(c.at(p + "self_attn_update")).f), 1e-4) << p;
    EXPECT_LT(max_abs_diff(out.text.layer_updates[2 * l + 1], tensor(c.at(p + "cross_attn_update")).f), 1e-4) << p;
    EXPECT_LT(max_abs_diff(out.text.layer_outputs[l], tensor(c.at(p + "out")).f), 1e-4) << p;
  }
  const double text_err = max_abs_diff(out.text.text_logits, tensor(c.at("text_logits")).f);
  const double audio_err = max_abs_diff(out.audio_logits, tensor(c.at("audio_logits")).f);
  EXPECT_LT(max_abs_diff(out.text.transformer_out, tensor(c.at("transformer_out")).f), 1e-4);
  EXPECT_LT(text_err, 1e-4);
  EXPECT_LT(audio_err, 1e-4);
  std::printf("[ tts teacher-forced ] max abs error: text logits %.3g, audio logits %.3g\n", text_err, audio_err);
  const Json& lm = c.at("lm_forward");
  EXPECT_LT(max_abs_diff(out.logits, tensor(lm.at("logits")).f), 1e-4);
  VTensor mask = tensor(lm.at("mask"));
  for (size_t i = 0; i < mask.i.size(); ++i) EXPECT_EQ(out.mask[i], mask.i[i]) << "mask " << i;
}

TEST(TtsTeacherForced, TwoThreadsMatchKyutai) {
  TtsFixture& f = fixture();
  LoadOptions o;
  o.threads = 2;  // 14 steps x 4 heads over 50 source positions: the cross-attention splits across threads
  auto bytes = test::read_file(test::data_path("tts/weights.safetensors"));
  auto model = load_lm(f.config, bytes.data(), bytes.size(), o);
  const Json& c = cases().at("teacher_forced");
  LmConditions cond = model->prepare_conditions(tts_condition_attributes(f.config, {f.voice}, 2.0));
  LmForward out = model->forward(test::multistream(tensor(c.at("codes"))), false, &cond);
  EXPECT_LT(max_abs_diff(out.text.text_logits, tensor(c.at("text_logits")).f), 1e-4);
  EXPECT_LT(max_abs_diff(out.audio_logits, tensor(c.at("audio_logits")).f), 1e-4);
}

TEST(TtsTeacherForced, StreamingOneStepAtATimeMatchesKyutai) {
  TtsFixture& f = fixture();
  const Json& c = cases().at("teacher_forced");
  LmConditions cond = voice_a_cfg2(f);
  VTensor input = tensor(c.at("model_input"));
  const int K = int(input.shape[1]), T = int(input.shape[2]), D = f.config.dim, V = f.config.text_card_out;
  LmState state = f.model->new_state(&cond);
  std::vector<float> out(size_t(T) * D), logits(size_t(T) * V);
  std::vector<int32_t> tokens(K);
  for (int t = 0; t < T; ++t) {
    for (int k = 0; k < K; ++k) tokens[k] = int32_t(input.i[size_t(k) * T + t]);
    f.model->step(tokens.data(), state, out.data() + size_t(t) * D, logits.data() + size_t(t) * V);
  }
  const Json& s = c.at("streaming");
  EXPECT_LT(max_abs_diff(out, tensor(s.at("transformer_out")).f), 1e-4);
  EXPECT_LT(max_abs_diff(logits, tensor(s.at("text_logits")).f), 1e-4);
}

std::vector<std::string> script_of(const Json& c) {
  std::vector<std::string> out;
  for (const Json& s : c.at("script").as_array()) out.push_back(s.as_string());
  return out;
}

std::vector<int64_t> ints_of(const Json& list) {
  std::vector<int64_t> out;
  for (const Json& v : list.as_array()) out.push_back(int64_t(v.as_number()));
  return out;
}

// TTSModel.generate on one case: greedy, every step's inputs, logits and tokens, the frames.
void expect_generation(const std::string& config, const Json& c) {
  TtsFixture& f = fixture(config);
  const SentencePiece& tokenizer = test::tts_tokenizer();
  std::vector<TtsEntry> entries = script_to_entries(tokenizer, script_of(c));
  std::optional<double> cfg;
  if (!c.at("cfg_conditioning").is_null()) cfg = c.at("cfg_conditioning").as_number();
  ConditionAttributes attributes = tts_condition_attributes(f.config, {f.voice}, cfg);
  LmConditions cond = f.model->prepare_conditions(attributes);
  LmConditions null = f.model->prepare_conditions(null_condition_attributes(attributes));
  TtsGenerateOptions options;
  options.cfg_coef = c.at("tts_cfg_coef").as_number();
  options.max_gen_length = int(c.at("max_gen_length").as_number());
  options.record = true;
  TtsStateMachine machine(tts_machine_config(f.config));
  int frames_seen = 0;
  TtsResult r = tts_generate(*f.model, machine, entries, cond, options.cfg_coef != 1.0 ? &null : nullptr, options,
                             [&](const std::vector<int32_t>&) { ++frames_seen; });

  const int n = int(c.at("num_steps").as_number()), K = f.config.num_codebooks(), Q = f.config.dep_q;
  const int card = f.config.card, V = f.config.text_card_out;
  ASSERT_EQ(int(r.steps.size()), n);
  const int Bc = int(c.at("batch_in_network").as_number());
  VTensor model_input = tensor(c.at("model_input")), text_logits = tensor(c.at("text_logits"));
  VTensor dep_in = tensor(c.at("depformer_input_tokens")), dep_logits = tensor(c.at("depformer_logits"));
  std::optional<VTensor> dep_null;
  if (const Json* dn = c.find("depformer_logits_null")) dep_null = tensor(*dn);
  std::vector<int64_t> predicted = ints_of(c.at("predicted_text")), fed = ints_of(c.at("fed_text"));
  double text_err = 0, dep_err = 0, null_err = 0;
  for (int t = 0; t < n; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    const TtsStepRecord& s = r.steps[t];
    for (int b = 0; b < Bc; ++b) {
      for (int k = 0; k < K; ++k) ASSERT_EQ(s.model_input[b * K + k], model_input.i[(size_t(b) * K + k) * n + t]) << k;
      std::vector<float> want(text_logits.f.begin() + (size_t(b) * n + t) * V,
                              text_logits.f.begin() + (size_t(b) * n + t + 1) * V);
      text_err = std::max(text_err,
                          max_abs_diff({s.text_logits.begin() + b * V, s.text_logits.begin() + (b + 1) * V}, want));
    }
    ASSERT_EQ(s.predicted_text, predicted[t]);
    ASSERT_EQ(s.fed_text, fed[t]);
    ASSERT_EQ(s.depformer_ran, c.at("depformer_ran").as_array()[t].as_bool());
    if (!s.depformer_ran) continue;
    for (int k = 0; k < Q; ++k) ASSERT_EQ(s.depformer_input[k], dep_in.i[size_t(t) * Q + k]) << k;
    std::vector<float> want(dep_logits.f.begin() + size_t(t) * Q * card,
                            dep_logits.f.begin() + size_t(t + 1) * Q * card);
    dep_err = std::max(dep_err, max_abs_diff(s.depformer_logits, want));
    if (dep_null) {
      std::vector<float> wn(dep_null->f.begin() + size_t(t) * Q * card, dep_null->f.begin() + size_t(t + 1) * Q * card);
      null_err = std::max(null_err, max_abs_diff(s.depformer_logits_null, wn));
    }
  }
  EXPECT_LT(text_err, 1e-4);
  EXPECT_LT(dep_err, 1e-4);
  EXPECT_LT(null_err, 1e-4);
  std::printf("[ tts generation%s ] max abs error: text logits %.3g, Depformer logits %.3g (null %.3g)\n",
              config.c_str(), text_err, dep_err, null_err);
  VTensor frames = tensor(c.at("frames"));
  const int nf = int(c.at("num_frames").as_number());
  ASSERT_EQ(int(r.frames.size()), nf);
  EXPECT_EQ(frames_seen, nf);
  for (int i = 0; i < nf; ++i)
    for (int k = 0; k <= Q; ++k) ASSERT_EQ(r.frames[i][k], frames.i[size_t(k) * nf + i]) << "frame " << i << " k " << k;
  EXPECT_EQ(r.end_step.value_or(-1), int(c.at("end_step").as_number()));
  std::vector<int64_t> times = ints_of(c.at("consumption_times"));
  EXPECT_EQ(std::vector<int64_t>(r.consumption_times.begin(), r.consumption_times.end()), times);
  const auto& transcript = c.at("transcript").as_array();
  ASSERT_EQ(r.transcript.size(), transcript.size());
  for (size_t i = 0; i < transcript.size(); ++i)
    EXPECT_EQ(r.transcript[i].first, transcript[i].as_array()[0].as_string());
}

TEST(TtsGeneration, DistilledCfgThroughTheLutMatchesKyutai) { expect_generation("", cases().at("generation")); }

TEST(TtsGeneration, RealCfgWithANullStreamMatchesKyutai) {
  expect_generation("_nocfg", cases().at("generation_real_cfg"));
}

TEST(TtsGeneration, SamplingWithASeedIsReproducibleAndDiffersFromGreedy) {
  TtsFixture& f = fixture();
  const SentencePiece& tokenizer = test::tts_tokenizer();
  std::vector<TtsEntry> entries = script_to_entries(tokenizer, {"Hello world"});
  LmConditions cond = voice_a_cfg2(f);
  TtsStateMachine machine(tts_machine_config(f.config));
  auto run = [&](const TtsGenerateOptions& o) {
    TtsGenerateOptions limited = o;
    limited.max_gen_length = 24;
    return tts_generate(*f.model, machine, entries, cond, nullptr, limited).frames;
  };
  auto a = run(TtsGenerateOptions::sampling(0.6, 7)), b = run(TtsGenerateOptions::sampling(0.6, 7));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, run(TtsGenerateOptions{}));
  EXPECT_NE(a, run(TtsGenerateOptions::sampling(0.6, 8)));
}

TEST(TtsGeneration, FewerCodebooksStopTheDepformerAndFeedMinusOne) {
  TtsFixture& f = fixture();
  const Json& c = cases().at("generation");
  const SentencePiece& tokenizer = test::tts_tokenizer();
  LmConditions cond = voice_a_cfg2(f);
  TtsStateMachine machine(tts_machine_config(f.config));
  TtsGenerateOptions o;
  o.n_q = 4;
  o.record = true;
  TtsResult r = tts_generate(*f.model, machine, script_to_entries(tokenizer, script_of(c)), cond, nullptr, o);
  ASSERT_FALSE(r.frames.empty());
  for (const auto& frame : r.frames) ASSERT_EQ(frame.size(), 5u);
  for (const TtsStepRecord& s : r.steps) {
    for (int q = 4; q < 8; ++q)  // initial token, then -1: never a generated token
      ASSERT_TRUE(s.model_input[1 + q] == 32 || s.model_input[1 + q] == -1) << s.model_input[1 + q];
    if (s.depformer_ran) ASSERT_EQ(s.depformer_input.size(), 4u);
  }
  // The first Depformer step has the same inputs as the full run: its first 4 positions agree.
  VTensor dep_in = tensor(c.at("depformer_input_tokens"));
  const int first = f.config.tts_config->delay_steps();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(r.steps[first].depformer_input[k], dep_in.i[size_t(first) * 8 + k]) << k;
  o.n_q = 9;
  EXPECT_THROW(TtsGenerator(*f.model, machine, {}, cond, nullptr, o), Error);
}

TEST(TtsGeneration, RefusesRealCfgOnADistilledModelAndMissingNullConditions) {
  TtsFixture& f = fixture();
  LmConditions cond = voice_a_cfg2(f);
  TtsStateMachine machine(tts_machine_config(f.config));
  TtsGenerateOptions options;
  options.cfg_coef = 2.0;
  EXPECT_THROW(TtsGenerator(*f.model, machine, {}, cond, &cond, options), Error);
  TtsFixture& nocfg = fixture("_nocfg");
  LmConditions c2 = nocfg.model->prepare_conditions(
      tts_condition_attributes(nocfg.config, {nocfg.voice}, std::nullopt));
  EXPECT_THROW(TtsGenerator(*nocfg.model, machine, {}, c2, nullptr, options), Error);
  options.cfg_coef = 1.0;
  TtsGenerator empty(*nocfg.model, machine, {}, c2, nullptr, options);
  while (empty.running()) empty.step();
  // No entries: the initial padding (2 steps), then the new word that finds none ends the script.
  EXPECT_EQ(empty.machine_state().end_step.value_or(-1), 2);
  EXPECT_EQ(empty.offset(), 2 + empty.delay_steps() + options.final_padding);
  EXPECT_THROW(empty.step(), Error);
}

}  // namespace
}  // namespace kyutai
