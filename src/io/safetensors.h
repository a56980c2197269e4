// Safetensors reading from memory, whole or in chunks. In the browser there is no file
// system and a real checkpoint does not fit one ArrayBuffer, so the header is parsed first and
// tensors are handed out one at a time as their bytes arrive.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/dtype.h"

namespace kyutai {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;

  uint64_t numel() const;
  uint64_t byte_size() const { return end - begin; }
  std::string shape_string() const;
};

struct SafetensorsLimits {
  uint64_t max_header_bytes = 100ull << 20;  // same bound as the reference implementation
  size_t max_tensors = 1u << 20;
  int max_rank = 8;
  // One tensor's bytes: the stream buffers a tensor whole, so a header claiming more is
  // refused before anything is reserved (and on wasm32 the size must fit size_t).
  uint64_t max_tensor_bytes = sizeof(size_t) >= 8 ? (16ull << 30) : (2ull << 30);
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // N, the JSON length
  uint64_t data_start() const { return 8 + header_bytes; }
  uint64_t data_bytes = 0;          // size of the data section the header describes
  std::vector<TensorInfo> tensors;  // sorted by data offset
  std::vector<std::pair<std::string, std::string>> metadata;

  const TensorInfo* find(const std::string& name) const;
  const std::string* find_metadata(const std::string& key) const;
};

// Reads N from the first 8 bytes; `available` must be >= 8. Refuses absurd N before
// anything is allocated. `file_size` is 0 when unknown (streaming).
uint64_t read_safetensors_header_length(const uint8_t* bytes, size_t available, uint64_t file_size,
                                        const SafetensorsLimits& limits = {});

// Parses the header from a buffer holding at least 8 + N bytes. Validates dtypes, shapes,
// sizes and that tensors tile the data section without overlap or holes.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                                           const SafetensorsLimits& limits = {});

// A whole file in memory.
class SafetensorsFile {
 public:
  SafetensorsFile(const uint8_t* bytes, size_t size, const SafetensorsLimits& limits = {});
  const SafetensorsHeader& header() const { return header_; }
  const uint8_t* tensor_data(const TensorInfo& info) const { return bytes_ + header_.data_start() + info.begin; }

 private:
  const uint8_t* bytes_;
  SafetensorsHeader header_;
};

// Incremental reader: push() chunks in file order; `on_tensor` is called once per tensor
// with its complete bytes (held only for the duration of the call). At most one tensor's
// bytes are buffered, so peak memory is the largest tensor, never the file.
class SafetensorsStream {
 public:
  using TensorCallback = std::function<void(const TensorInfo&, const uint8_t*)>;
  using HeaderCallback = std::function<void(const SafetensorsHeader&)>;
  // Called as a tensor's first byte arrives, before any of its bytes are buffered: throws to
  // refuse the tensor (so an undeclared or oversized one never gets memory reserved); returns
  // false for a tensor whose bytes are not needed, which are then skipped, not buffered, and
  // `on_tensor` gets nullptr for it.
  using TensorCheck = std::function<bool(const TensorInfo&)>;

  SafetensorsStream(HeaderCallback on_header, TensorCallback on_tensor, const SafetensorsLimits& limits = {});
  void set_tensor_check(TensorCheck check) { on_begin_ = std::move(check); }
  void push(const uint8_t* bytes, size_t size);
  // Checks that the file ended exactly where the header said it would.
  void finish();
  // After push() or finish() threw (bad bytes, or a callback's error), the stream refuses
  // further use (InvalidState) rather than resynchronise on the wrong byte.
  bool failed() const { return failed_; }

  bool header_ready() const { return header_ready_; }
  const SafetensorsHeader& header() const { return header_; }
  uint64_t bytes_received() const { return received_; }
  size_t buffered_bytes() const { return buffer_.capacity(); }

 private:
  void push_bytes(const uint8_t* bytes, size_t size);
  void consume_data(const uint8_t* bytes, size_t size);
  void finish_empty_tensors();
  void check_usable() const;

  HeaderCallback on_header_;
  TensorCallback on_tensor_;
  TensorCheck on_begin_;
  SafetensorsLimits limits_;
  SafetensorsHeader header_;
  bool header_ready_ = false;
  bool failed_ = false;
  uint64_t header_length_ = 0;
  std::vector<uint8_t> buffer_;  // header bytes, then the current tensor's bytes
  size_t next_tensor_ = 0;
  bool skip_tensor_ = false;  // the current tensor's bytes are not needed
  uint64_t data_offset_ = 0;  // bytes of the data section consumed
  uint64_t received_ = 0;
};

// Writing (converter CLI, tests, synthetic checkpoints).
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};
std::vector<uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                           const std::vector<std::pair<std::string, std::string>>& metadata = {});
// Just the 8-byte length + JSON header for tensors whose data the caller streams itself.
std::vector<uint8_t> safetensors_header_bytes(const std::vector<TensorInfo>& tensors,
                                              const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace kyutai
