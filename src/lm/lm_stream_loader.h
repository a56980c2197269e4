// A checkpoint streamed in chunks, over one file or several shards in order: each tensor is
// converted as its bytes arrive (never the whole file in memory); with `max_bytes`, the first
// header is checked against the model's footprint before any tensor is converted, so a model
// that cannot fit is refused before the rest is downloaded; every byte goes into a content hash.
#pragma once

#include <cstdint>
#include <memory>

#include "io/safetensors.h"
#include "lm/lm_model.h"

namespace kyutai {

struct StreamProgress {
  uint64_t bytes = 0;         // of every file so far
  size_t tensors = 0;         // loaded so far
  bool header_ready = false;  // of the current file
  uint64_t total_bytes = 0;   // of the current file, once its header is read
  uint64_t content_hash = 0;  // of every byte pushed, all files in order
};

class LmStreamLoader {
 public:
  LmStreamLoader(LmConfig config, const LoadOptions& options, uint64_t max_bytes = 0);
  // Ends the current file (it must have ended exactly where its header said) and starts the next.
  void begin_file();
  StreamProgress push(const uint8_t* bytes, size_t size);
  // Checks that the last file ended and that every tensor arrived.
  std::unique_ptr<LmModel> finish();

 private:
  void new_stream();
  SafetensorsStream& stream();

  LmConfig config_;
  LoadOptions options_;
  uint64_t max_bytes_;
  LmLoader loader_;
  std::unique_ptr<SafetensorsStream> stream_;
  uint64_t received_before_ = 0;
  uint64_t hash_;
  bool checked_ = false;
};

}  // namespace kyutai
