// Failed loads leave nothing behind: truncated weights, a config that does not match the
// weights, mis-shaped / mistyped / missing / unexpected tensors, bad tokenizer bytes, bad
// Mimi weights. Each failure names the problem, the heap returns to where it was (no
// half-made model survives), and a correct load afterwards works.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "codec/mimi.h"
#include "io/safetensors.h"
#include "lm/lm_model.h"
#include "lm_fixture.h"
#include "robustness/robustness_util.h"
#include "session/asr_session.h"
#include "test_util.h"
#include "text/sentencepiece.h"

namespace kyutai {
namespace {

constexpr ErrorCode kBad = ErrorCode::InvalidCheckpoint;

std::string text(const std::string& rel) { return test::read_text(test::data_path(rel)); }
std::vector<uint8_t> bytes(const std::string& rel) { return test::read_file(test::data_path(rel)); }

// The streamed path of the WebAssembly loader: header, then tensors as bytes arrive.
std::unique_ptr<LmModel> stream_lm(const std::string& config, const std::vector<uint8_t>& file, size_t chunk = 4096) {
  LmLoader loader(LmConfig::parse(config), LoadOptions{});
  auto stream = loader.stream();
  for (size_t pos = 0; pos < file.size(); pos += chunk)
    stream->push(file.data() + pos, std::min(chunk, file.size() - pos));
  stream->finish();
  return loader.finish();
}

// Rewrites a checkpoint through `edit` (tensors in file order).
std::vector<uint8_t> rewrite(const std::vector<uint8_t>& file,
                             const std::function<void(std::vector<TensorToWrite>&)>& edit) {
  SafetensorsFile f(file.data(), file.size());
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& t : f.header().tensors) {
    const uint8_t* p = f.tensor_data(t);
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.byte_size())});
  }
  edit(tensors);
  return serialize_safetensors(tensors);
}

TEST(RobustLoad, LmFailuresNameTheProblem) {
  const std::string stt_config = text("stt/config.json");
  const auto stt = bytes("stt/weights.safetensors");
  const size_t half = stt.size() / 2;
  const std::vector<uint8_t> truncated(stt.begin(), stt.begin() + half);

  EXPECT_KYUTAI_ERROR(
      load_lm(LmConfig::parse(stt_config), truncated.data(), truncated.size()), kBad,
      "safetensors: tensors need " + std::to_string(stt.size()) + " bytes but the file has " + std::to_string(half));
  {
    SafetensorsFile f(stt.data(), stt.size());
    std::string inside;
    for (const TensorInfo& t : f.header().tensors)
      if (f.header().data_start() + t.begin < half && half < f.header().data_start() + t.end) inside = t.name;
    EXPECT_KYUTAI_ERROR(stream_lm(stt_config, truncated), kBad,
                        "safetensors: stream ended after " + std::to_string(half) + " bytes, inside tensor '" + inside +
                            "' (file should have " + std::to_string(stt.size()) + " bytes)");
  }
  // The Moshi-shaped weights under the STT config: the first tensor it has no use for.
  EXPECT_KYUTAI_ERROR_HAS(stream_lm(stt_config, bytes("lm/weights.safetensors")), kBad,
                          ": this configuration has no such weight");
  // A config whose sizes disagree with the weights.
  std::string wider = stt_config.substr(0, stt_config.rfind('}')) + ", \"text_card\": 120}";
  EXPECT_KYUTAI_ERROR(stream_lm(wider, stt), kBad, "tensor 'text_emb.weight': expected shape [121, 64], got [101, 64]");

  EXPECT_KYUTAI_ERROR(stream_lm(stt_config, rewrite(stt,
                                                    [](auto& ts) {
                                                      for (auto& t : ts)
                                                        if (t.name == "out_norm.alpha") t.dtype = DType::I32;
                                                    })),
                      kBad, "tensor 'out_norm.alpha': expected a float dtype (F32, BF16, F16), got I32");
  EXPECT_KYUTAI_ERROR(stream_lm(stt_config, rewrite(stt,
                                                    [](auto& ts) {
                                                      for (size_t i = 0; i < ts.size(); ++i)
                                                        if (ts[i].name == "text_linear.weight")
                                                          ts.erase(ts.begin() + i);
                                                    })),
                      kBad, "checkpoint is missing 1 tensor: 'text_linear.weight'");
  EXPECT_KYUTAI_ERROR(stream_lm(stt_config, rewrite(stt,
                                                    [](auto& ts) {
                                                      ts.push_back({"bogus", DType::F32, {1}, std::vector<uint8_t>(4)});
                                                    })),
                      kBad, "unexpected tensor 'bogus' [1]: this configuration has no such weight");
}

// A header may claim any size; nothing is reserved for a tensor until the loader has
// checked that the configuration declares it, at no more than its shape's f32 size.
TEST(RobustLoad, ATensorIsCheckedBeforeItsBytesAreBuffered) {
  const std::string stt_config = text("stt/config.json");
  auto push_header_and = [&](const std::string& name, std::vector<int64_t> shape) {
    LmLoader loader(LmConfig::parse(stt_config), LoadOptions{});
    auto stream = loader.stream();
    TensorInfo huge{name, DType::F32, std::move(shape), 0, 0};
    huge.end = huge.numel() * 4;
    std::vector<uint8_t> file = safetensors_header_bytes({huge});
    file.resize(file.size() + 64, 0);  // the tensor's first bytes
    try {
      stream->push(file.data(), file.size());
    } catch (...) {
      EXPECT_EQ(stream->buffered_bytes(), 0u) << name;
      throw;
    }
  };
  EXPECT_KYUTAI_ERROR(push_header_and("huge", {1 << 28}), kBad,
                      "unexpected tensor 'huge' [268435456]: this configuration has no such weight");
  EXPECT_KYUTAI_ERROR(push_header_and("text_emb.weight", {1 << 14, 1 << 14}), kBad,
                      "tensor 'text_emb.weight' [16384, 16384] has 1073741824 bytes; this configuration's weight of "
                      "that name takes at most 25856");
}

TEST(RobustLoad, NonFiniteWeightsAreRefusedWithTheTensorName) {
  const std::string stt_config = text("stt/config.json");
  const auto stt = bytes("stt/weights.safetensors");
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    auto poisoned = rewrite(stt, [&](auto& ts) {
      for (auto& t : ts)
        if (t.name == "out_norm.alpha") {
          ASSERT_EQ(t.dtype, DType::F32);
          std::memcpy(t.data.data() + 4 * 5, &bad, 4);
        }
    });
    EXPECT_KYUTAI_ERROR(stream_lm(stt_config, poisoned), kBad,
                        "tensor 'out_norm.alpha' [1, 1, 64]: element 5 is NaN or infinite (load with allowNonFinite "
                        "to accept such weights)");
    EXPECT_KYUTAI_ERROR_HAS(load_lm(LmConfig::parse(stt_config), poisoned.data(), poisoned.size()), kBad,
                            "element 5 is NaN or infinite");
    LoadOptions allow;
    allow.allow_non_finite = true;
    EXPECT_NO_THROW(load_lm(LmConfig::parse(stt_config), poisoned.data(), poisoned.size(), allow));
  }
}

TEST(RobustLoad, TokenizerAndMimiFailuresNameTheProblem) {
  const std::string garbage = "{\"not\": \"a tokenizer\"}\n";
  EXPECT_KYUTAI_ERROR(SentencePiece::load(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()), kBad,
                      "protobuf: malformed ModelProto at byte 1 of 23: field 15 uses the unsupported group encoding");
  EXPECT_KYUTAI_ERROR(SentencePiece::load(nullptr, 0), kBad,
                      "tokenizer: model has no pieces (0 bytes; not a SentencePiece model?)");
  const auto lm_weights = bytes("lm/weights.safetensors");
  EXPECT_KYUTAI_ERROR(SentencePiece::load(lm_weights.data(), lm_weights.size()), kBad,
                      "protobuf: malformed ModelProto at byte 3 of 2620232: invalid field number 0");

  const MimiConfig config = MimiConfig::parse(text("mimi/config.json"));
  const auto mimi = bytes("mimi/weights.safetensors");
  EXPECT_KYUTAI_ERROR_HAS(load_mimi(config, lm_weights.data(), lm_weights.size()), kBad,
                          ": this configuration has no such weight");
  EXPECT_KYUTAI_ERROR(load_mimi(config, mimi.data(), mimi.size() - 1), kBad,
                      "safetensors: tensors need " + std::to_string(mimi.size()) + " bytes but the file has " +
                          std::to_string(mimi.size() - 1));
}

TEST(RobustLoad, FailedLoadsLeaveTheHeapAsTheyFoundIt) {
  const std::string stt_config = text("stt/config.json");
  const auto stt = bytes("stt/weights.safetensors");
  const std::vector<uint8_t> truncated(stt.begin(), stt.begin() + stt.size() * 2 / 3);
  const auto lm_weights = bytes("lm/weights.safetensors");
  const auto mimi = bytes("mimi/weights.safetensors");
  const MimiConfig mimi_config = MimiConfig::parse(text("mimi/config.json"));
  const std::string wider = stt_config.substr(0, stt_config.rfind('}')) + ", \"dim\": 128, \"num_heads\": 4}";
  const std::vector<std::pair<const char*, std::function<void()>>> failures = {
      {"truncated weights, streamed", [&] { stream_lm(stt_config, truncated); }},
      {"truncated weights, whole file",
       [&] { load_lm(LmConfig::parse(stt_config), truncated.data(), truncated.size()); }},
      {"weights of another model", [&] { stream_lm(stt_config, lm_weights); }},
      {"config that does not match", [&] { stream_lm(wider, stt); }},
      {"absurd config", [&] { LmConfig::parse("{\"dim\": 1e9, \"num_layers\": 2}"); }},
      {"bad tokenizer bytes", [&] { SentencePiece::load(lm_weights.data(), 4096); }},
      {"Mimi weights of another model", [&] { load_mimi(mimi_config, lm_weights.data(), lm_weights.size()); }},
      {"truncated Mimi weights", [&] { load_mimi(mimi_config, mimi.data(), mimi.size() * 3 / 4); }},
  };
  for (const auto& [what, f] : failures) {
    EXPECT_THROW(f(), Error) << what;  // warm-up: one-time allocations (locale, iostream buffers) happen here
    const size_t baseline = robustness::heap_in_use();
    for (int round = 0; round < 5; ++round) EXPECT_THROW(f(), Error) << what;
    if (robustness::heap_measurable())
      EXPECT_EQ(robustness::heap_in_use(), baseline) << "a failed load left memory behind: " << what;
  }

  // The engine is not poisoned: the same bytes load and run as the fixture does.
  auto model = stream_lm(stt_config, stt, 999);
  AsrSession a(*model), b(*test::lm_fixture("stt").model);
  std::vector<int32_t> frame(8, 3);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(a.push_frame(frame.data(), 8).text_logits, b.push_frame(frame.data(), 8).text_logits);
}

}  // namespace
}  // namespace kyutai
