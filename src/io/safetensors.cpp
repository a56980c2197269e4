#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/json.h"

namespace kyutai {

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const TensorInfo* SafetensorsHeader::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string* SafetensorsHeader::find_metadata(const std::string& key) const {
  for (const auto& kv : metadata)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

uint64_t read_safetensors_header_length(const uint8_t* bytes, size_t available, uint64_t file_size,
                                        const SafetensorsLimits& limits) {
  if (available < 8)
    fail(ErrorCode::InvalidCheckpoint, "safetensors: file of ", available,
         " bytes is shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > limits.max_header_bytes)
    fail(ErrorCode::LimitExceeded, "safetensors: header length ", n, " bytes exceeds the limit of ",
         limits.max_header_bytes, " bytes");
  if (n < 2) fail(ErrorCode::InvalidCheckpoint, "safetensors: header length ", n, " is too small");
  if (file_size != 0 && n > file_size - 8)
    fail(ErrorCode::InvalidCheckpoint, "safetensors: header length ", n, " runs past the end of the ", file_size,
         "-byte file");
  return n;
}

namespace {

[[noreturn]] void bad(const std::string& tensor, const std::string& msg) {
  fail(ErrorCode::InvalidCheckpoint, "safetensors: tensor '", tensor, "': ", msg);
}

uint64_t parse_u64(const Json& v, const std::string& tensor, const char* what) {
  if (!v.is_number()) bad(tensor, str_cat(what, " must be a number"));
  double d = v.as_number();
  // Range first: converting an out-of-range double to uint64_t is undefined behaviour.
  if (!(d >= 0) || d > 9.007199254740992e15 || d != double(uint64_t(d)))
    bad(tensor, str_cat(what, " ", d, " is not a non-negative integer"));
  return uint64_t(d);
}

TensorInfo parse_tensor_entry(const std::string& name, const Json& v, const SafetensorsLimits& limits) {
  if (!v.is_object()) bad(name, "entry must be an object");
  TensorInfo info;
  info.name = name;
  const Json* dtype = v.find("dtype");
  if (!dtype || !dtype->is_string()) bad(name, "missing string 'dtype'");
  if (!parse_dtype(dtype->as_string(), &info.dtype))
    bad(name, str_cat("unsupported dtype '", dtype->as_string(), "' (supported: F32, F16, BF16, I8, U8, I32, I64)"));
  const Json* shape = v.find("shape");
  if (!shape || !shape->is_array()) bad(name, "missing array 'shape'");
  if (int(shape->as_array().size()) > limits.max_rank)
    bad(name, str_cat("rank ", shape->as_array().size(), " exceeds ", limits.max_rank));
  uint64_t numel = 1;
  for (const Json& d : shape->as_array()) {
    uint64_t dim = parse_u64(d, name, "shape entry");
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim) bad(name, "shape product overflows");
    numel *= dim;
    info.shape.push_back(int64_t(dim));
  }
  const Json* offsets = v.find("data_offsets");
  if (!offsets || !offsets->is_array() || offsets->as_array().size() != 2)
    bad(name, "'data_offsets' must be an array of two integers");
  info.begin = parse_u64(offsets->as_array()[0], name, "data_offsets[0]");
  info.end = parse_u64(offsets->as_array()[1], name, "data_offsets[1]");
  if (info.end < info.begin) bad(name, str_cat("data_offsets [", info.begin, ", ", info.end, "] are reversed"));
  uint64_t expected = numel * dtype_size(info.dtype);
  if (info.byte_size() != expected)
    bad(name, str_cat("shape ", info.shape_string(), " of ", dtype_name(info.dtype), " needs ", expected,
                      " bytes but data_offsets span ", info.byte_size()));
  if (info.byte_size() > limits.max_tensor_bytes)
    fail(ErrorCode::LimitExceeded, "safetensors: tensor '", name, "': ", info.byte_size(),
         " bytes exceed the limit of ", limits.max_tensor_bytes,
         " bytes per tensor (SafetensorsLimits::max_tensor_bytes)");
  return info;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                                           const SafetensorsLimits& limits) {
  SafetensorsHeader h;
  h.header_bytes = read_safetensors_header_length(bytes, available, file_size, limits);
  if (available - 8 < h.header_bytes)
    fail(ErrorCode::InvalidCheckpoint, "safetensors: header of ", h.header_bytes, " bytes is truncated (",
         available - 8, " available)");
  std::string_view text(reinterpret_cast<const char*>(bytes + 8), size_t(h.header_bytes));
  // The format allows trailing spaces as padding.
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  Json root = Json::parse(text, "safetensors header", ErrorCode::InvalidCheckpoint);
  if (!root.is_object()) fail(ErrorCode::InvalidCheckpoint, "safetensors: header is not a JSON object");
  for (const auto& [key, value] : root.as_object()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(ErrorCode::InvalidCheckpoint, "safetensors: __metadata__ must be an object");
      for (const auto& [mk, mv] : value.as_object()) {
        if (!mv.is_string())
          fail(ErrorCode::InvalidCheckpoint, "safetensors: __metadata__ value '", mk, "' must be a string");
        h.metadata.emplace_back(mk, mv.as_string());
      }
      continue;
    }
    if (h.tensors.size() >= limits.max_tensors)
      fail(ErrorCode::LimitExceeded, "safetensors: more than ", limits.max_tensors, " tensors");
    h.tensors.push_back(parse_tensor_entry(key, value, limits));
  }
  // By (begin, end) as the reference implementation: a zero-sized tensor sharing its start
  // with a non-empty one comes first (sorting by begin alone could reject a valid file).
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  uint64_t cursor = 0;
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const TensorInfo& t = h.tensors[i];
    if (i > 0 && t.name == h.tensors[i - 1].name) bad(t.name, "appears twice");
    if (t.begin < cursor)
      bad(t.name, str_cat("data_offsets [", t.begin, ", ", t.end, "] overlap the previous tensor '",
                          h.tensors[i - 1].name, "'"));
    if (t.begin > cursor)
      bad(t.name, str_cat("data_offsets start at ", t.begin, " leaving a hole after byte ", cursor));
    cursor = t.end;
  }
  // Names must be unique even when not adjacent in offset order.
  std::vector<const std::string*> names;
  for (const auto& t : h.tensors) names.push_back(&t.name);
  std::sort(names.begin(), names.end(), [](auto a, auto b) { return *a < *b; });
  for (size_t i = 1; i < names.size(); ++i)
    if (*names[i] == *names[i - 1]) bad(*names[i], "appears twice");
  h.data_bytes = cursor;
  if (file_size != 0 && h.data_start() + h.data_bytes > file_size)
    fail(ErrorCode::InvalidCheckpoint, "safetensors: tensors need ", h.data_start() + h.data_bytes,
         " bytes but the file has ", file_size);
  return h;
}

SafetensorsFile::SafetensorsFile(const uint8_t* bytes, size_t size, const SafetensorsLimits& limits)
    : bytes_(bytes), header_(parse_safetensors_header(bytes, size, size, limits)) {}

SafetensorsStream::SafetensorsStream(HeaderCallback on_header, TensorCallback on_tensor,
                                     const SafetensorsLimits& limits)
    : on_header_(std::move(on_header)), on_tensor_(std::move(on_tensor)), limits_(limits) {}

void SafetensorsStream::check_usable() const {
  if (failed_)
    fail(ErrorCode::InvalidState, "safetensors: the stream already failed after ", received_,
         " bytes; start a new one");
}

void SafetensorsStream::push(const uint8_t* bytes, size_t size) {
  check_usable();
  try {
    push_bytes(bytes, size);
  } catch (...) {
    failed_ = true;
    throw;
  }
}

void SafetensorsStream::push_bytes(const uint8_t* bytes, size_t size) {
  received_ += size;
  if (header_ready_) {
    consume_data(bytes, size);
    return;
  }
  // Accumulate until the 8-byte length and then the whole header have arrived.
  size_t take = size;
  if (header_length_ == 0) {
    size_t need = 8 - buffer_.size();
    size_t n = std::min(need, size);
    buffer_.insert(buffer_.end(), bytes, bytes + n);
    bytes += n;
    size -= n;
    if (buffer_.size() < 8) return;
    header_length_ = read_safetensors_header_length(buffer_.data(), 8, 0, limits_);
    take = size;
  }
  size_t need = size_t(8 + header_length_) - buffer_.size();
  size_t n = std::min(need, take);
  buffer_.insert(buffer_.end(), bytes, bytes + n);
  bytes += n;
  size -= n;
  if (buffer_.size() < 8 + header_length_) return;
  header_ = parse_safetensors_header(buffer_.data(), buffer_.size(), 0, limits_);
  header_ready_ = true;
  std::vector<uint8_t>().swap(buffer_);
  if (on_header_) on_header_(header_);
  consume_data(bytes, size);
}

void SafetensorsStream::consume_data(const uint8_t* bytes, size_t size) {
  while (size > 0) {
    if (next_tensor_ >= header_.tensors.size()) {
      fail(ErrorCode::InvalidCheckpoint, "safetensors: ", size, " unexpected bytes after the last tensor");
    }
    const TensorInfo& t = header_.tensors[next_tensor_];
    uint64_t have = data_offset_ - t.begin;  // bytes of t already consumed
    uint64_t want = t.byte_size() - have;
    size_t n = size_t(std::min<uint64_t>(want, size));
    if (have == 0) skip_tensor_ = on_begin_ && !on_begin_(t);
    if (skip_tensor_) {
      if (n == want) on_tensor_(t, nullptr);
    } else if (have == 0 && n == t.byte_size()) {
      on_tensor_(t, bytes);  // whole tensor in this chunk: no copy
    } else {
      if (have == 0) buffer_.reserve(size_t(t.byte_size()));
      buffer_.insert(buffer_.end(), bytes, bytes + n);
      if (buffer_.size() == t.byte_size()) {
        on_tensor_(t, buffer_.data());
        buffer_.clear();
      }
    }
    data_offset_ += n;
    bytes += n;
    size -= n;
    if (data_offset_ == t.end) {
      ++next_tensor_;
      finish_empty_tensors();
    }
  }
}

// Zero-sized tensors complete without bytes (checked like any other).
void SafetensorsStream::finish_empty_tensors() {
  while (next_tensor_ < header_.tensors.size() && header_.tensors[next_tensor_].byte_size() == 0) {
    const TensorInfo& t = header_.tensors[next_tensor_++];
    if (on_begin_) on_begin_(t);
    on_tensor_(t, nullptr);
  }
}

void SafetensorsStream::finish() {
  check_usable();
  failed_ = true;  // until it returns: any throw below leaves the stream failed
  if (!header_ready_)
    fail(ErrorCode::InvalidCheckpoint, "safetensors: stream ended after ", received_,
         " bytes, before the header was complete");
  finish_empty_tensors();
  if (next_tensor_ < header_.tensors.size())
    fail(ErrorCode::InvalidCheckpoint, "safetensors: stream ended after ", received_, " bytes, inside tensor '",
         header_.tensors[next_tensor_].name, "' (file should have ", header_.data_start() + header_.data_bytes,
         " bytes)");
  failed_ = false;
}

namespace {

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::vector<uint8_t> safetensors_header_bytes(const std::vector<TensorInfo>& tensors,
                                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::string json = "{";
  bool first = true;
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i)
      json += (i ? "," : "") + json_escape(metadata[i].first) + ":" + json_escape(metadata[i].second);
    json += "}";
    first = false;
  }
  for (const auto& t : tensors) {
    json += first ? "" : ",";
    first = false;
    json += json_escape(t.name) + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) json += (i ? "," : "") + std::to_string(t.shape[i]);
    json += "],\"data_offsets\":[" + std::to_string(t.begin) + "," + std::to_string(t.end) + "]}";
  }
  json += "}";
  while (json.size() % 8) json += ' ';
  std::vector<uint8_t> out(8 + json.size());
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(n >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  return out;
}

std::vector<uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                           const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<TensorInfo> infos;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.begin = offset;
    info.end = offset + t.data.size();
    if (info.byte_size() != info.numel() * dtype_size(t.dtype))
      fail(ErrorCode::InvalidArgument, "serialize_safetensors: tensor '", t.name, "' has ", t.data.size(),
           " bytes for shape ", info.shape_string());
    offset = info.end;
    infos.push_back(std::move(info));
  }
  std::vector<uint8_t> out = safetensors_header_bytes(infos, metadata);
  out.reserve(out.size() + offset);
  for (const auto& t : tensors) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

}  // namespace kyutai
