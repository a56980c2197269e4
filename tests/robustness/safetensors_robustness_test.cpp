// Hostile safetensors files: every malformed header is refused with a message naming the
// problem, through the whole-buffer reader and the chunked stream alike, and nothing is
// allocated for sizes the file only claims.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "robustness/robustness_util.h"

namespace kyutai {
namespace {

std::vector<uint8_t> with_length(uint64_t n, const std::string& text, size_t data_bytes = 0) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(n >> (8 * i));
  out.insert(out.end(), text.begin(), text.end());
  out.resize(out.size() + data_bytes, 0x11);
  return out;
}
std::vector<uint8_t> file(const std::string& header, size_t data_bytes = 0) {
  return with_length(header.size(), header, data_bytes);
}

void parse(const std::vector<uint8_t>& bytes, const SafetensorsLimits& limits = {}) {
  SafetensorsFile f(bytes.data(), bytes.size(), limits);
}

// The same bytes through the stream, in chunks of `chunk` bytes, then finish().
void stream(const std::vector<uint8_t>& bytes, size_t chunk = 7, const SafetensorsLimits& limits = {}) {
  SafetensorsStream s(
      nullptr, [](const TensorInfo&, const uint8_t*) {}, limits);
  for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
    std::vector<uint8_t> part(bytes.begin() + pos, bytes.begin() + std::min(bytes.size(), pos + chunk));
    s.push(part.data(), part.size());
  }
  s.finish();
}

constexpr ErrorCode kBad = ErrorCode::InvalidCheckpoint;

std::string tensor(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                   uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

TEST(RobustSafetensors, HeaderLength) {
  std::vector<uint8_t> five(5, 0);
  EXPECT_KYUTAI_ERROR(parse(five), kBad, "safetensors: file of 5 bytes is shorter than the 8-byte header length");
  // As a signed 64-bit number these lengths are negative; as unsigned, absurd. Refused before
  // any allocation, with the limit named.
  EXPECT_KYUTAI_ERROR(parse(with_length(~0ull, "{}")), ErrorCode::LimitExceeded,
                      "safetensors: header length 18446744073709551615 bytes exceeds the limit of 104857600 bytes");
  EXPECT_KYUTAI_ERROR(parse(with_length(1ull << 63, "{}")), ErrorCode::LimitExceeded,
                      "safetensors: header length 9223372036854775808 bytes exceeds the limit of 104857600 bytes");
  EXPECT_KYUTAI_ERROR(stream(with_length(~0ull, "{}")), ErrorCode::LimitExceeded,
                      "safetensors: header length 18446744073709551615 bytes exceeds the limit of 104857600 bytes");
  EXPECT_KYUTAI_ERROR(parse(with_length(1000, "{}", 10)), kBad,
                      "safetensors: header length 1000 runs past the end of the 20-byte file");
  EXPECT_KYUTAI_ERROR(parse(with_length(0, "")), kBad, "safetensors: header length 0 is too small");
  EXPECT_KYUTAI_ERROR(stream(with_length(1000, "{}", 10)), kBad,
                      "safetensors: stream ended after 20 bytes, before the header was complete");
}

TEST(RobustSafetensors, HeaderJson) {
  EXPECT_KYUTAI_ERROR(parse(file("<html>")), kBad,
                      "safetensors header: invalid JSON at byte 0: unexpected character '<'");
  EXPECT_KYUTAI_ERROR(parse(file("[1, 2]")), kBad, "safetensors: header is not a JSON object");
  EXPECT_KYUTAI_ERROR(parse(file("{}x")), kBad,
                      "safetensors header: invalid JSON at byte 2: unexpected trailing characters");
  EXPECT_KYUTAI_ERROR(parse(file("{\"a\":{\"dtype\":\"F32\"")), kBad,
                      "safetensors header: invalid JSON at byte 19: expected ',' or '}'");
  // Not UTF-8: a stray byte, an overlong encoding, an escaped lone surrogate.
  EXPECT_KYUTAI_ERROR(parse(file("{\"\xff\xfe\":{}}")), kBad,
                      "safetensors header: invalid JSON at byte 2: invalid UTF-8 in string");
  EXPECT_KYUTAI_ERROR(parse(file("{\"\xc0\x80\":{}}")), kBad,
                      "safetensors header: invalid JSON at byte 2: invalid UTF-8 in string");
  EXPECT_KYUTAI_ERROR(parse(file("{\"\\ud800\":{}}")), kBad,
                      "safetensors header: invalid JSON at byte 8: unpaired surrogate");
  EXPECT_KYUTAI_ERROR(parse(file(std::string("{\"a\x01\":{}}"))), kBad,
                      "safetensors header: invalid JSON at byte 3: control character in string");
  // Deep nesting is a limit, not a stack overflow.
  EXPECT_KYUTAI_ERROR(parse(file(std::string(100000, '[') + std::string(100000, ']'))), ErrorCode::LimitExceeded,
                      "safetensors header: JSON nesting deeper than the limit of 64 levels");
  EXPECT_KYUTAI_ERROR(parse(file("{\"__metadata__\":{\"k\":1}}")), kBad,
                      "safetensors: __metadata__ value 'k' must be a string");
  EXPECT_KYUTAI_ERROR(parse(file("{\"__metadata__\":[]}")), kBad, "safetensors: __metadata__ must be an object");
}

TEST(RobustSafetensors, TensorEntries) {
  auto one = [](const std::string& entry, size_t data = 64) { return file("{" + entry + "}", data); };
  EXPECT_KYUTAI_ERROR(
      parse(one(tensor("a", "F8_E4M3", "[1]", 0, 1))), kBad,
      "safetensors: tensor 'a': unsupported dtype 'F8_E4M3' (supported: F32, F16, BF16, I8, U8, I32, I64)");
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}")), kBad,
                      "safetensors: tensor 'a': missing string 'dtype'");
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":[]")), kBad, "safetensors: tensor 'a': entry must be an object");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[-1]", 0, 4))), kBad,
                      "safetensors: tensor 'a': shape entry -1 is not a non-negative integer");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[1.5]", 0, 4))), kBad,
                      "safetensors: tensor 'a': shape entry 1.5 is not a non-negative integer");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4))), kBad,
                      "safetensors: tensor 'a': rank 9 exceeds 8");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[4294967296,4294967296]", 0, 4))), kBad,
                      "safetensors: tensor 'a': shape product overflows");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[2]", 8, 0))), kBad,
                      "safetensors: tensor 'a': data_offsets [8, 0] are reversed");
  EXPECT_KYUTAI_ERROR(parse(one(tensor("a", "F32", "[2]", 0, 4))), kBad,
                      "safetensors: tensor 'a': shape [2] of F32 needs 8 bytes but data_offsets span 4");
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}")), kBad,
                      "safetensors: tensor 'a': 'data_offsets' must be an array of two integers");
  // Offsets beyond 2^53 (or 1e300, whose conversion to an integer would be undefined).
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e300]}")), kBad,
                      "safetensors: tensor 'a': data_offsets[1] 1e+300 is not a non-negative integer");
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,1]}")), kBad,
                      "safetensors: tensor 'a': shape entry 1e+300 is not a non-negative integer");
  EXPECT_KYUTAI_ERROR(parse(one("\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-0.5,1]}")), kBad,
                      "safetensors: tensor 'a': data_offsets[0] -0.5 is not a non-negative integer");
}

TEST(RobustSafetensors, OffsetsMustTileTheDataSection) {
  const std::string a = tensor("a", "F32", "[2]", 0, 8);
  EXPECT_KYUTAI_ERROR(parse(file("{" + a + "," + tensor("b", "F32", "[2]", 4, 12) + "}", 12)), kBad,
                      "safetensors: tensor 'b': data_offsets [4, 12] overlap the previous tensor 'a'");
  EXPECT_KYUTAI_ERROR(parse(file("{" + a + "," + tensor("b", "F32", "[2]", 12, 20) + "}", 20)), kBad,
                      "safetensors: tensor 'b': data_offsets start at 12 leaving a hole after byte 8");
  EXPECT_KYUTAI_ERROR(parse(file("{" + a + "," + tensor("a", "F32", "[2]", 8, 16) + "}", 16)), kBad,
                      "safetensors: tensor 'a': appears twice");
  // Out of the file: the header promises 16 bytes of data, the file holds 4.
  const std::string two = "{" + a + "," + tensor("b", "F32", "[2]", 8, 16) + "}";
  EXPECT_KYUTAI_ERROR(parse(file(two, 4)), kBad,
                      "safetensors: tensors need " + std::to_string(8 + two.size() + 16) + " bytes but the file has " +
                          std::to_string(8 + two.size() + 4));
  EXPECT_KYUTAI_ERROR(stream(file(two, 12)), kBad,
                      "safetensors: stream ended after " + std::to_string(8 + two.size() + 12) +
                          " bytes, inside tensor 'b' (file should have " + std::to_string(8 + two.size() + 16) +
                          " bytes)");
  EXPECT_KYUTAI_ERROR(stream(file(two, 19), 4096), kBad, "safetensors: 3 unexpected bytes after the last tensor");
}

TEST(RobustSafetensors, ZeroSizedTensorSharingItsStartIsValid) {
  // JSON order puts the non-empty tensor first; sorting by start alone used to keep that
  // order and report an overlap.
  const auto bytes = file("{" + tensor("w", "F32", "[2]", 0, 8) + "," + tensor("e", "F32", "[0]", 0, 0) + "}", 8);
  SafetensorsFile f(bytes.data(), bytes.size());
  ASSERT_EQ(f.header().tensors.size(), 2u);
  EXPECT_EQ(f.header().tensors[0].name, "e");
  std::vector<std::string> order;
  SafetensorsStream s(nullptr, [&](const TensorInfo& t, const uint8_t*) { order.push_back(t.name); });
  s.push(bytes.data(), bytes.size());
  s.finish();
  EXPECT_EQ(order, (std::vector<std::string>{"e", "w"}));
}

TEST(RobustSafetensors, LimitsNameThemselvesAndNothingIsReserved) {
  SafetensorsLimits limits;
  limits.max_tensors = 2;
  const std::string three = "{" + tensor("a", "U8", "[1]", 0, 1) + "," + tensor("b", "U8", "[1]", 1, 2) + "," +
                            tensor("c", "U8", "[1]", 2, 3) + "}";
  EXPECT_KYUTAI_ERROR(parse(file(three, 3), limits), ErrorCode::LimitExceeded, "safetensors: more than 2 tensors");
  limits = {};
  limits.max_tensor_bytes = 1024;
  EXPECT_KYUTAI_ERROR(parse(file("{" + tensor("big", "F32", "[512]", 0, 2048) + "}", 2048), limits),
                      ErrorCode::LimitExceeded,
                      "safetensors: tensor 'big': 2048 bytes exceed the limit of 1024 bytes per tensor "
                      "(SafetensorsLimits::max_tensor_bytes)");
  // A streamed header claiming a 64 GiB tensor (no file size to check it against) is refused
  // at the header, before a buffer for it is reserved.
  SafetensorsStream s(nullptr, [](const TensorInfo&, const uint8_t*) {});
  const auto huge = file("{" + tensor("huge", "U8", "[68719476736]", 0, 68719476736ull) + "}");
  EXPECT_KYUTAI_ERROR_HAS(s.push(huge.data(), huge.size()), ErrorCode::LimitExceeded,
                          "bytes per tensor (SafetensorsLimits::max_tensor_bytes)");
  EXPECT_LT(s.buffered_bytes(), 4096u);
}

TEST(RobustSafetensors, AStreamThatFailedRefusesMoreBytes) {
  // A consumer error (here on tensor 'b') must not let later bytes be taken for the next
  // tensor: the stream stays failed.
  std::vector<TensorToWrite> tensors = {
      {"a", DType::U8, {4}, {1, 2, 3, 4}}, {"b", DType::U8, {4}, {5, 6, 7, 8}}, {"c", DType::U8, {4}, {9, 10, 11, 12}}};
  const auto bytes = serialize_safetensors(tensors);
  std::vector<std::string> seen;
  SafetensorsStream s(nullptr, [&](const TensorInfo& t, const uint8_t*) {
    if (t.name == "b") fail(ErrorCode::InvalidCheckpoint, "consumer refuses 'b'");
    seen.push_back(t.name);
  });
  const size_t cut = bytes.size() - 2;  // 'b' complete, inside 'c'
  EXPECT_KYUTAI_ERROR(s.push(bytes.data(), cut), kBad, "consumer refuses 'b'");
  EXPECT_TRUE(s.failed());
  EXPECT_KYUTAI_ERROR(
      s.push(bytes.data() + cut, 2), ErrorCode::InvalidState,
      "safetensors: the stream already failed after " + std::to_string(cut) + " bytes; start a new one");
  EXPECT_KYUTAI_ERROR(
      s.finish(), ErrorCode::InvalidState,
      "safetensors: the stream already failed after " + std::to_string(cut) + " bytes; start a new one");
  EXPECT_EQ(seen, std::vector<std::string>{"a"});
}

TEST(RobustSafetensors, RandomChunkSplitsGiveTheSameTensors) {
  std::vector<TensorToWrite> tensors;
  std::mt19937 rng(3);
  for (int i = 0; i < 6; ++i) {
    TensorToWrite t{"t" + std::to_string(i), i % 2 ? DType::BF16 : DType::F32, {int64_t(i), 3}, {}};
    t.data.resize(size_t(i) * 3 * dtype_size(t.dtype));
    for (auto& b : t.data) b = uint8_t(rng());
    tensors.push_back(t);
  }
  const auto bytes = serialize_safetensors(tensors, {{"k", "v"}});
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> got;
    SafetensorsStream s(nullptr, [&](const TensorInfo& t, const uint8_t* b) {
      got.emplace_back(t.name, t.byte_size() ? std::vector<uint8_t>(b, b + t.byte_size()) : std::vector<uint8_t>());
    });
    for (size_t pos = 0; pos < bytes.size();) {
      size_t n = std::min(bytes.size() - pos, size_t(1 + rng() % 40));
      std::vector<uint8_t> part(bytes.begin() + pos, bytes.begin() + pos + n);
      s.push(part.data(), n);
      pos += n;
    }
    s.finish();
    ASSERT_EQ(got.size(), tensors.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].first, tensors[i].name);
      EXPECT_EQ(got[i].second, tensors[i].data);
    }
  }
}

TEST(RobustSafetensors, RandomlyCorruptedFilesThrowOnlyKyutaiErrors) {
  std::vector<TensorToWrite> tensors = {{"a", DType::F32, {2, 2}, std::vector<uint8_t>(16, 1)},
                                        {"b", DType::I8, {3}, std::vector<uint8_t>(3, 2)}};
  const auto original = serialize_safetensors(tensors);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    auto bytes = original;
    for (int k = 0, n = 1 + int(rng() % 3); k < n; ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    try {
      parse(bytes);
    } catch (const Error&) {
    }
    try {
      stream(bytes, 1 + rng() % 16);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace kyutai
