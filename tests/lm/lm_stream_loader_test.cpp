// The streamed loader the bindings use: a checkpoint split in shards loads as the whole file
// does, its content hash covers every byte in order, and max_bytes refuses before converting.
#include <gtest/gtest.h>

#include "io/content_hash.h"
#include "lm/lm_stream_loader.h"
#include "lm_fixture.h"
#include "robustness/robustness_util.h"
#include "test_util.h"

namespace kyutai {
namespace {

std::vector<uint8_t> shard(const SafetensorsFile& f, size_t from, size_t to) {
  std::vector<TensorToWrite> tensors;
  for (size_t i = from; i < to; ++i) {
    const TensorInfo& t = f.header().tensors[i];
    const uint8_t* p = f.tensor_data(t);
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.byte_size())});
  }
  return serialize_safetensors(tensors);
}

TEST(LmStreamLoader, ShardsLoadAsTheWholeFileWithOneHashOverEveryByte) {
  const LmConfig config = LmConfig::parse(test::read_text(test::data_path("stt/config.json")));
  const auto whole = test::read_file(test::data_path("stt/weights.safetensors"));
  SafetensorsFile f(whole.data(), whole.size());
  const size_t n = f.header().tensors.size();
  const std::vector<std::vector<uint8_t>> files = {shard(f, 0, n / 2), shard(f, n / 2, n)};

  LmStreamLoader loader(config, LoadOptions{});
  uint64_t hash = kContentHashSeed;
  StreamProgress last;
  for (size_t i = 0; i < files.size(); ++i) {
    if (i) loader.begin_file();
    for (size_t pos = 0; pos < files[i].size(); pos += 1000) {
      size_t len = std::min<size_t>(1000, files[i].size() - pos);
      last = loader.push(files[i].data() + pos, len);
      hash = content_hash(hash, files[i].data() + pos, len);
    }
  }
  EXPECT_EQ(last.bytes, files[0].size() + files[1].size());
  EXPECT_EQ(last.tensors, n);
  EXPECT_EQ(last.content_hash, hash);
  auto model = loader.finish();
  std::vector<int32_t> tokens(config.num_codebooks(), 1);
  std::vector<float> out_a(config.dim), logits_a(config.text_card_out), out_b(config.dim),
      logits_b(config.text_card_out);
  LmState a = model->new_state(), b = test::lm_fixture("stt").model->new_state();
  model->step(tokens.data(), a, out_a.data(), logits_a.data());
  test::lm_fixture("stt").model->step(tokens.data(), b, out_b.data(), logits_b.data());
  EXPECT_EQ(logits_a, logits_b);
  EXPECT_KYUTAI_ERROR(loader.push(whole.data(), 8), ErrorCode::InvalidState, "the loader already finished");
}

TEST(LmStreamLoader, MaxBytesRefusesAtTheFirstHeader) {
  const LmConfig config = LmConfig::parse(test::read_text(test::data_path("stt/config.json")));
  const auto whole = test::read_file(test::data_path("stt/weights.safetensors"));
  LmStreamLoader loader(config, LoadOptions{}, 1000);
  EXPECT_KYUTAI_ERROR_HAS(loader.push(whole.data(), whole.size()), ErrorCode::LimitExceeded, "does not fit");
}

}  // namespace
}  // namespace kyutai
