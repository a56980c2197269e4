#include "lm/lm_stream_loader.h"

#include "core/error.h"
#include "io/content_hash.h"
#include "lm/footprint.h"

namespace kyutai {

LmStreamLoader::LmStreamLoader(LmConfig config, const LoadOptions& options, uint64_t max_bytes)
    : config_(config),
      options_(options),
      max_bytes_(max_bytes),
      loader_(std::move(config), options),
      hash_(kContentHashSeed) {
  new_stream();
}

void LmStreamLoader::new_stream() {
  stream_ = loader_.stream([this](const SafetensorsHeader& h) {
    if (max_bytes_ && !checked_) check_lm_fits(config_, h, options_.format, max_bytes_, options_.kv_cache);
    checked_ = true;
  });
}

SafetensorsStream& LmStreamLoader::stream() {
  if (!stream_) fail(ErrorCode::InvalidState, "the loader already finished");
  return *stream_;
}

void LmStreamLoader::begin_file() {
  if (stream().bytes_received() > 0) {
    stream_->finish();
    received_before_ += stream_->bytes_received();
  }
  new_stream();
}

StreamProgress LmStreamLoader::push(const uint8_t* bytes, size_t size) {
  SafetensorsStream& s = stream();
  s.push(bytes, size);
  hash_ = content_hash(hash_, bytes, size);
  StreamProgress p;
  p.bytes = received_before_ + s.bytes_received();
  p.tensors = loader_.tensors_loaded();
  p.header_ready = s.header_ready();
  if (p.header_ready) p.total_bytes = s.header().data_start() + s.header().data_bytes;
  p.content_hash = hash_;
  return p;
}

std::unique_ptr<LmModel> LmStreamLoader::finish() {
  stream().finish();
  stream_.reset();
  return loader_.finish();
}

}  // namespace kyutai
