// Mimi against the outputs of Kyutai's own implementation (tests/data/mimi): whole-clip
// encode/decode with every intermediate, the streaming run (which diverges from the whole
// clip once the ring KV cache overflows, as Kyutai's does), fewer codebooks, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <sstream>

#include "codec/mimi.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace kyutai {
namespace {

using test::max_abs_diff;
using test::tensor;
using test::VTensor;

constexpr double kTolerance = 1e-4;

struct Fixture {
  MimiConfig config;
  std::unique_ptr<Mimi> model;
  std::vector<uint8_t> weights;
  VTensor input, padded, codes, decoded;
};

Fixture& fixture() {
  static std::unique_ptr<Fixture> f;
  if (!f) {
    f = std::make_unique<Fixture>();
    f->config = MimiConfig::parse(test::read_text(test::data_path("mimi/config.json")));
    f->weights = test::read_file(test::data_path("mimi/weights.safetensors"));
    f->model = load_mimi(f->config, f->weights.data(), f->weights.size());
    const Json& v = test::vectors("mimi");
    f->input = tensor(v.at("input_wav"));
    f->padded = tensor(v.at("input_wav_padded"));
    f->codes = tensor(v.at("codes"));
    f->decoded = tensor(v.at("decoded_wav"));
  }
  return *f;
}

// Checks a measured difference and records it (--gtest_output=xml shows the values).
void expect_close(const char* name, const std::vector<float>& got, const std::vector<float>& expected) {
  const double d = max_abs_diff(got, expected);
  EXPECT_LT(d, kTolerance) << name;
  std::ostringstream text;
  text << std::scientific << std::setprecision(2) << d;
  testing::Test::RecordProperty(name, text.str());
}

std::vector<int32_t> to_i32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

std::vector<float> intermediate(const std::string& name) {
  return tensor(test::vectors("mimi").at("intermediates").at(name)).f;
}

// Runs `fn` and returns the error code it throws (fails the test when it does not throw).
template <class Fn>
ErrorCode error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.code();
  }
  ADD_FAILURE() << "expected a kyutai::Error";
  return ErrorCode::Internal;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MimiConformance, SizesComeFromTheConfig) {
  Fixture& f = fixture();
  const Json& v = test::vectors("mimi");
  EXPECT_EQ(f.model->frame_size(), int(v.at("frame_size").as_number()));
  EXPECT_EQ(f.model->num_codebooks(), int(v.at("num_codebooks").as_number()));
  EXPECT_EQ(f.model->sample_rate(), 24000);
  EXPECT_EQ(f.model->cardinality(), 32);
  EXPECT_DOUBLE_EQ(f.config.encoder_frame_rate(), v.at("encoder_frame_rate").as_number());
  EXPECT_EQ(f.config.encoder_steps_per_frame(), 2);
}

TEST(MimiConformance, EncodeMatchesKyutai) {
  Fixture& f = fixture();
  MimiIntermediates inter;
  MimiCodes codes = f.model->encode(f.padded.f.data(), f.padded.f.size(), 8, &inter);
  ASSERT_EQ(codes.codebooks, 8);
  ASSERT_EQ(codes.frames, 7);
  EXPECT_EQ(codes.data, to_i32(f.codes.i));
  expect_close("seanet_encoder_out", inter.seanet_encoder_out, intermediate("seanet_encoder_out"));
  expect_close("encoder_transformer_out", inter.encoder_transformer_out, intermediate("encoder_transformer_out"));
  expect_close("latent_12_5hz", inter.latent, intermediate("latent_12_5hz"));
}

TEST(MimiConformance, EncodePadsTheClipToWholeFrames) {
  Fixture& f = fixture();
  ASSERT_EQ(f.input.f.size(), 12000u);
  MimiCodes unpadded = f.model->encode(f.input.f.data(), f.input.f.size(), 8);
  EXPECT_EQ(unpadded.frames, 7);
  EXPECT_EQ(unpadded.data, to_i32(f.codes.i));
}

TEST(MimiConformance, DecodeMatchesKyutai) {
  Fixture& f = fixture();
  MimiIntermediates inter;
  std::vector<int32_t> codes = to_i32(f.codes.i);
  std::vector<float> pcm = f.model->decode(codes.data(), 8, 7, &inter);
  ASSERT_EQ(pcm.size(), 13440u);
  expect_close("decoded_wav", pcm, f.decoded.f);
  expect_close("quantized_latent", inter.quantized_latent, intermediate("quantized_latent"));
  expect_close("upsampled_25hz", inter.upsampled, intermediate("upsampled_25hz"));
  expect_close("decoder_transformer_out", inter.decoder_transformer_out, intermediate("decoder_transformer_out"));
}

// Whole clips run in chunks; the KV cache is sized so the chunking never shows.
TEST(MimiConformance, WholeClipChunkingDoesNotChangeTheResult) {
  Fixture& f = fixture();
  std::vector<int32_t> codes = to_i32(f.codes.i);
  const int saved = f.model->whole_clip_chunk_frames();
  for (int chunk : {1, 2, 3, 5}) {
    SCOPED_TRACE(chunk);
    f.model->set_whole_clip_chunk_frames(chunk);
    MimiIntermediates inter;
    MimiCodes enc = f.model->encode(f.input.f.data(), f.input.f.size(), 8, &inter);
    EXPECT_EQ(enc.data, codes);
    EXPECT_LT(max_abs_diff(inter.encoder_transformer_out, intermediate("encoder_transformer_out")), kTolerance);
    std::vector<float> pcm = f.model->decode(codes.data(), 8, 7, &inter);
    EXPECT_LT(max_abs_diff(pcm, f.decoded.f), kTolerance);
    EXPECT_LT(max_abs_diff(inter.decoder_transformer_out, intermediate("decoder_transformer_out")), kTolerance);
  }
  f.model->set_whole_clip_chunk_frames(saved);
  EXPECT_EQ(error_of([&] { f.model->set_whole_clip_chunk_frames(0); }), ErrorCode::InvalidArgument);
}

// Frame-by-frame encode of input_wav_padded and decode of the whole-clip codes under
// Kyutai's streaming(1): ring KV caches of `context` entries.
struct StreamResult {
  std::vector<int32_t> codes;  // [codebook][frame]
  std::vector<float> pcm;
};

StreamResult run_stream(Fixture& f, int codebooks, const std::function<void(int, MimiState&)>& before_frame = {}) {
  const int frames = 7, fs = f.model->frame_size();
  StreamResult r;
  r.codes.assign(size_t(codebooks) * frames, -1);
  r.pcm.assign(size_t(frames) * fs, 0.0f);
  MimiState st = f.model->new_state(codebooks);
  std::vector<int32_t> full_codes = to_i32(f.codes.i);
  std::vector<int32_t> frame_codes(codebooks), step_codes(codebooks);
  for (int t = 0; t < frames; ++t) {
    if (before_frame) before_frame(t, st);
    f.model->encode_step(f.padded.f.data() + size_t(t) * fs, st, frame_codes.data());
    for (int k = 0; k < codebooks; ++k) {
      r.codes[size_t(k) * frames + t] = frame_codes[k];
      step_codes[k] = full_codes[size_t(k) * frames + t];
    }
    f.model->decode_step(step_codes.data(), st, r.pcm.data() + size_t(t) * fs);
  }
  return r;
}

TEST(MimiConformance, StreamingMatchesKyutaiStreaming) {
  Fixture& f = fixture();
  const Json& s = test::vectors("mimi").at("streaming");
  VTensor stream_codes = tensor(s.at("codes"));
  VTensor stream_pcm = tensor(s.at("decoded_wav"));
  StreamResult r = run_stream(f, 8);
  EXPECT_EQ(r.codes, to_i32(stream_codes.i));
  expect_close("streaming_decoded_wav", r.pcm, stream_pcm.f);
}

// Kyutai's ring cache of `context` (8) entries takes 2 steps per frame, so past 8 steps the
// stream's first step of each frame sees 7 keys, not 8: results leave the whole clip's.
TEST(MimiConformance, StreamingDivergesFromTheWholeClipPastTheContext) {
  Fixture& f = fixture();
  const Json& s = test::vectors("mimi").at("streaming");
  ASSERT_FALSE(s.at("codes_equal_full").as_bool());
  StreamResult r = run_stream(f, 8);
  std::vector<int32_t> full = to_i32(f.codes.i);
  const int frames = 7, fs = f.model->frame_size();
  // Frames 0-4 see whole windows either way; frame 5 is the first whose codes change (frame 6
  // happens to quantize alike again).
  for (int t = 0; t <= 5; ++t) {
    bool same = true;
    for (int k = 0; k < 8; ++k) same &= r.codes[size_t(k) * frames + t] == full[size_t(k) * frames + t];
    EXPECT_EQ(same, t < 5) << "frame " << t;
  }
  auto frame_diff = [&](int t) {
    std::vector<float> a(r.pcm.begin() + t * fs, r.pcm.begin() + (t + 1) * fs);
    std::vector<float> b(f.decoded.f.begin() + t * fs, f.decoded.f.begin() + (t + 1) * fs);
    return max_abs_diff(a, b);
  };
  for (int t = 0; t < 4; ++t) EXPECT_LT(frame_diff(t), 1e-5) << "frame " << t;
  double later = 0;
  for (int t = 4; t < frames; ++t) later = std::max(later, frame_diff(t));
  EXPECT_NEAR(later, s.at("decoded_max_abs_diff_vs_full").as_number(), kTolerance);
}

TEST(MimiConformance, ResetRestartsTheStream) {
  Fixture& f = fixture();
  StreamResult first = run_stream(f, 8);
  // Dirty a state, reset it, and run the recorded stream through it.
  MimiState st = f.model->new_state(8);
  std::vector<int32_t> codes(8);
  std::vector<float> pcm(f.model->frame_size());
  for (int t = 0; t < 3; ++t) {
    f.model->encode_step(f.padded.f.data() + size_t(t + 2) * f.model->frame_size(), st, codes.data());
    f.model->decode_step(codes.data(), st, pcm.data());
  }
  st.reset();
  const VTensor stream_codes = tensor(test::vectors("mimi").at("streaming").at("codes"));
  for (int t = 0; t < 7; ++t) {
    f.model->encode_step(f.padded.f.data() + size_t(t) * f.model->frame_size(), st, codes.data());
    for (int k = 0; k < 8; ++k) EXPECT_EQ(codes[k], stream_codes.i[size_t(k) * 7 + t]) << "frame " << t;
  }
  EXPECT_EQ(first.codes, to_i32(stream_codes.i));
}

// Fewer codebooks: a prefix of the residual levels (Kyutai's set_num_codebooks).
TEST(MimiConformance, FewerCodebooksEncodeAPrefix) {
  Fixture& f = fixture();
  std::vector<int32_t> full = to_i32(f.codes.i);
  for (int k = 1; k <= 8; ++k) {
    SCOPED_TRACE(k);
    MimiCodes codes = f.model->encode(f.padded.f.data(), f.padded.f.size(), k);
    ASSERT_EQ(codes.codebooks, k);
    EXPECT_EQ(codes.data, std::vector<int32_t>(full.begin(), full.begin() + size_t(k) * 7));
    StreamResult r = run_stream(f, k);
    const VTensor stream_codes = tensor(test::vectors("mimi").at("streaming").at("codes"));
    EXPECT_EQ(r.codes, std::vector<int32_t>(stream_codes.i.begin(), stream_codes.i.begin() + size_t(k) * 7));
  }
}

// Reference dequantization straight from the checkpoint tensors:
// rvq_first.output_proj(c0) + rvq_rest.output_proj(c1 + ... + c_{k-1}).
std::vector<float> reference_quantized_latent(const std::vector<uint8_t>& weights, const std::vector<int32_t>& codes,
                                              int codebooks, int frames) {
  SafetensorsFile file(weights.data(), weights.size());
  auto read = [&](const std::string& name) {
    const TensorInfo* info = file.header().find(name);
    EXPECT_NE(info, nullptr) << name;
    std::vector<float> v(info->numel());
    std::memcpy(v.data(), file.tensor_data(*info), v.size() * 4);
    return v;
  };
  const int dim = 16, out = 32, bins = 32;
  std::vector<float> latent(size_t(out) * frames, 0.0f);  // [out][frames]
  for (const char* rvq : {"rvq_first", "rvq_rest"}) {
    const std::string p = std::string("quantizer.") + rvq + ".";
    const int first = rvq == std::string("rvq_first") ? 0 : 1;
    const int last = rvq == std::string("rvq_first") ? 1 : codebooks;
    if (first >= last) continue;
    std::vector<float> sum(size_t(frames) * dim, 0.0f);
    for (int k = first; k < last; ++k) {
      const std::string cb = p + "vq.layers." + std::to_string(k - first) + "._codebook.";
      std::vector<float> emb = read(cb + "embedding_sum"), usage = read(cb + "cluster_usage");
      for (int t = 0; t < frames; ++t) {
        const int code = codes[size_t(k) * frames + t];
        for (int d = 0; d < dim; ++d)
          sum[size_t(t) * dim + d] += emb[size_t(code) * dim + d] / std::max(usage[code], 1e-5f);
      }
    }
    std::vector<float> proj = read(p + "output_proj.weight");  // [out][dim][1]
    for (int o = 0; o < out; ++o)
      for (int t = 0; t < frames; ++t) {
        float acc = 0;
        for (int d = 0; d < dim; ++d) acc += proj[size_t(o) * dim + d] * sum[size_t(t) * dim + d];
        latent[size_t(o) * frames + t] += acc;
      }
  }
  (void)bins;
  return latent;
}

TEST(MimiConformance, FewerCodebooksDecodeTheirOwnLevels) {
  Fixture& f = fixture();
  std::vector<int32_t> full = to_i32(f.codes.i);
  std::vector<float> previous;
  for (int k = 1; k <= 8; ++k) {
    SCOPED_TRACE(k);
    std::vector<int32_t> prefix(full.begin(), full.begin() + size_t(k) * 7);
    MimiIntermediates inter;
    std::vector<float> pcm = f.model->decode(prefix.data(), k, 7, &inter);
    EXPECT_EQ(pcm.size(), 13440u);
    EXPECT_LT(max_abs_diff(inter.quantized_latent, reference_quantized_latent(f.weights, full, k, 7)), 1e-5);
    if (k == 8) EXPECT_LT(max_abs_diff(pcm, f.decoded.f), kTolerance);
    if (!previous.empty()) EXPECT_GT(max_abs_diff(pcm, previous), 1e-4) << "level " << k << " changed nothing";
    previous = pcm;
  }
}

TEST(MimiConformance, CodesAreValidLmAudioTokens) {
  Fixture& f = fixture();
  // Loud noise-like input: every code still lies in 0..cardinality-1.
  std::vector<float> pcm(size_t(f.model->frame_size()) * 3);
  uint32_t seed = 12345;
  for (float& x : pcm) {
    seed = seed * 1664525u + 1013904223u;
    x = 4.0f * (float(seed >> 8) / float(1 << 24) - 0.5f);
  }
  MimiCodes codes = f.model->encode(pcm.data(), pcm.size(), 8);
  ASSERT_EQ(codes.data.size(), 24u);
  for (int32_t c : codes.data) {
    EXPECT_GE(c, 0);
    EXPECT_LT(c, f.model->cardinality());
  }
}

TEST(MimiConformance, EmptyClipGivesNoFrames) {
  Fixture& f = fixture();
  MimiCodes codes = f.model->encode(nullptr, 0, 8);
  EXPECT_EQ(codes.frames, 0);
  EXPECT_TRUE(codes.data.empty());
  EXPECT_TRUE(f.model->decode(nullptr, 8, 0).empty());
}

TEST(MimiConformance, BadInputIsRefusedAndTheStreamGoesOn) {
  Fixture& f = fixture();
  const int fs = f.model->frame_size();
  std::vector<int32_t> full = to_i32(f.codes.i);
  // Whole clips.
  EXPECT_EQ(error_of([&] { f.model->encode(f.padded.f.data(), 1920, 0); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { f.model->encode(f.padded.f.data(), 1920, 9); }), ErrorCode::InvalidArgument);
  std::vector<float> nan_clip(f.padded.f);
  nan_clip[5000] = NAN;
  EXPECT_NE(message_of([&] { f.model->encode(nan_clip.data(), nan_clip.size(), 8); }).find("sample 5000 is NaN"),
            std::string::npos);
  nan_clip[5000] = INFINITY;
  EXPECT_EQ(error_of([&] { f.model->encode(nan_clip.data(), nan_clip.size(), 8); }), ErrorCode::InvalidArgument);
  std::vector<int32_t> bad = full;
  bad[3 * 7 + 2] = 32;
  EXPECT_NE(message_of([&] { f.model->decode(bad.data(), 8, 7); }).find("code 32 (codebook 3, frame 2)"),
            std::string::npos);
  bad[3 * 7 + 2] = -1;
  EXPECT_EQ(error_of([&] { f.model->decode(bad.data(), 8, 7); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { f.model->decode(full.data(), 8, -1); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { f.model->new_state(0); }), ErrorCode::InvalidArgument);

  // A stream interrupted by refused frames still gives Kyutai's streaming results.
  std::vector<float> nan_frame(fs, 0.1f);
  nan_frame[17] = NAN;
  std::vector<int32_t> bad_codes(8, 5);
  bad_codes[7] = 99;
  std::vector<int32_t> codes(8);
  std::vector<float> pcm(fs);
  StreamResult r = run_stream(f, 8, [&](int t, MimiState& st) {
    if (t != 3 && t != 6) return;
    EXPECT_EQ(error_of([&] { f.model->encode_step(nan_frame.data(), st, codes.data()); }), ErrorCode::InvalidArgument);
    EXPECT_EQ(error_of([&] { f.model->decode_step(bad_codes.data(), st, pcm.data()); }), ErrorCode::InvalidArgument);
  });
  const Json& s = test::vectors("mimi").at("streaming");
  EXPECT_EQ(r.codes, to_i32(tensor(s.at("codes")).i));
  EXPECT_LT(max_abs_diff(r.pcm, tensor(s.at("decoded_wav")).f), kTolerance);

  MimiState empty;  // never created by the model
  EXPECT_EQ(error_of([&] { f.model->encode_step(f.padded.f.data(), empty, codes.data()); }), ErrorCode::InvalidState);
  EXPECT_EQ(error_of([&] { f.model->decode_step(full.data(), empty, pcm.data()); }), ErrorCode::InvalidState);
}

}  // namespace
}  // namespace kyutai
