// Fuzzes the safetensors reader two ways on the same bytes and checks they agree:
//   - whole buffer: SafetensorsFile (header validation, tensor data inside the file);
//   - streamed: SafetensorsStream fed in chunks whose sizes come from a PRNG seeded by the
//     first input byte (every chunk is copied to its own heap block, so reading past a
//     chunk is an AddressSanitizer report), then finish().
// Both may throw kyutai::Error; nothing else. When the stream accepts a file, the whole-buffer
// reader must accept it too and hand out the same tensors with the same bytes, in file order;
// when the whole-buffer reader accepts a file that ends exactly after its last tensor, the
// stream must accept it too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"

namespace {

using namespace kyutai;

struct Got {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors: whole-buffer and streamed readers disagree: %s\n", what);
  std::abort();
}

uint32_t next(uint32_t& s) {  // xorshift32
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = 0x9e3779b9u ^ (uint32_t(data[0]) * 0x01000193u);
  ++data;
  --size;

  SafetensorsLimits limits;
  limits.max_tensors = 4096;
  limits.max_tensor_bytes = 1u << 24;  // the stream buffers one tensor: keep it in the fuzzer's RSS budget

  // Whole buffer.
  std::optional<std::vector<Got>> whole;
  uint64_t whole_end = 0;
  try {
    SafetensorsFile file(data, size, limits);
    std::vector<Got> tensors;
    for (const TensorInfo& t : file.header().tensors) {
      const uint8_t* p = file.tensor_data(t);
      tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.byte_size())});
      if (t.numel() * dtype_size(t.dtype) != t.byte_size()) mismatch("byte size differs from shape x dtype");
    }
    whole = std::move(tensors);
    whole_end = file.header().data_start() + file.header().data_bytes;
  } catch (const Error&) {
  }

  // Streamed, in random chunks.
  std::vector<Got> streamed;
  bool stream_ok = true;
  std::optional<SafetensorsStream> holder;
  try {
    SafetensorsStream& stream = holder.emplace(
        nullptr,
        [&](const TensorInfo& t, const uint8_t* bytes) {
          if (t.byte_size() > 0 && bytes == nullptr) mismatch("null bytes for a non-empty tensor");
          streamed.push_back(
              {t.name, t.dtype, t.shape,
               t.byte_size() ? std::vector<uint8_t>(bytes, bytes + t.byte_size()) : std::vector<uint8_t>()});
        },
        limits);
    size_t pos = 0;
    while (pos < size) {
      uint32_t r = next(seed);
      size_t n = (r & 3) == 0 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 64;
      n = std::min(n, size - pos);
      std::vector<uint8_t> chunk(data + pos, data + pos + n);
      stream.push(chunk.data(), chunk.size());
      pos += n;
    }
    stream.finish();
  } catch (const Error&) {
    stream_ok = false;
    // A failed stream stays failed: more bytes are refused, not misread.
    if (holder && !holder->failed()) mismatch("a stream that threw is not marked failed");
    try {
      uint8_t more[4] = {0, 0, 0, 0};
      if (holder) holder->push(more, sizeof more);
      if (holder) mismatch("a failed stream accepted more bytes");
    } catch (const Error& e) {
      if (e.code() != ErrorCode::InvalidState) mismatch("a failed stream gave another error than InvalidState");
    }
  }

  if (stream_ok) {
    if (!whole) mismatch("the stream accepted a file the whole-buffer reader refused");
    if (whole->size() != streamed.size()) mismatch("tensor count");
    for (size_t i = 0; i < streamed.size(); ++i) {
      const Got &a = (*whole)[i], &b = streamed[i];
      if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.bytes != b.bytes)
        mismatch("tensor name, dtype, shape or bytes");
    }
  } else if (whole && whole_end == size) {
    mismatch("the whole-buffer reader accepted an exact file the stream refused");
  }
  return 0;
}
