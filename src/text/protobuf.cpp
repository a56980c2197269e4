#include "text/protobuf.h"

#include <cstring>

#include "core/error.h"

namespace kyutai::protobuf {
namespace {

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::Varint: return "varint";
    case WireType::Fixed64: return "fixed64";
    case WireType::LengthDelimited: return "length-delimited";
    case WireType::StartGroup: return "start-group";
    case WireType::EndGroup: return "end-group";
    case WireType::Fixed32: return "fixed32";
  }
  return "unknown";
}

void expect_type(const Field& field, WireType expected, std::string_view context) {
  if (field.type != expected) {
    fail(ErrorCode::InvalidCheckpoint, "protobuf: ", context, " field ", field.number, " has wire type ",
         wire_type_name(field.type), ", expected ", wire_type_name(expected));
  }
}

uint64_t load_le(std::string_view bytes, size_t pos, size_t width) {
  uint64_t value = 0;
  for (size_t k = 0; k < width; ++k) {
    value |= uint64_t(static_cast<unsigned char>(bytes[pos + k])) << (8 * k);
  }
  return value;
}

}  // namespace

uint64_t Field::as_uint64(std::string_view context) const {
  expect_type(*this, WireType::Varint, context);
  return varint;
}

int32_t Field::as_int32(std::string_view context) const {
  // int32 is sign-extended to 64 bits on the wire; truncation keeps the two's complement value.
  return static_cast<int32_t>(static_cast<uint32_t>(as_uint64(context)));
}

bool Field::as_bool(std::string_view context) const { return as_uint64(context) != 0; }

float Field::as_float(std::string_view context) const {
  expect_type(*this, WireType::Fixed32, context);
  uint32_t raw = static_cast<uint32_t>(fixed);
  float value;
  std::memcpy(&value, &raw, sizeof value);
  return value;
}

std::string_view Field::as_bytes(std::string_view context) const {
  expect_type(*this, WireType::LengthDelimited, context);
  return bytes;
}

Reader::Reader(std::string_view data, std::string context) : data_(data), context_(std::move(context)) {}

void Reader::malformed(const std::string& why) const {
  fail(ErrorCode::InvalidCheckpoint, "protobuf: malformed ", context_, " at byte ", pos_, " of ", data_.size(), ": ",
       why);
}

uint64_t Reader::read_varint(const char* what) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) malformed(str_cat("truncated ", what));
    unsigned char byte = static_cast<unsigned char>(data_[pos_++]);
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) malformed(str_cat(what, " overflows 64 bits"));
    value |= uint64_t(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  malformed(str_cat(what, " longer than 10 bytes"));
}

bool Reader::next(Field& field) {
  if (pos_ >= data_.size()) return false;
  uint64_t key = read_varint("field key");
  uint64_t number = key >> 3;
  if (number == 0 || number > 0x1FFFFFFF) malformed(str_cat("invalid field number ", number));
  field = Field{};
  field.number = static_cast<uint32_t>(number);
  field.type = static_cast<WireType>(key & 7);
  switch (field.type) {
    case WireType::Varint: field.varint = read_varint("varint"); return true;
    case WireType::Fixed64:
    case WireType::Fixed32: {
      size_t width = field.type == WireType::Fixed64 ? 8 : 4;
      if (data_.size() - pos_ < width) malformed(str_cat("truncated fixed", width * 8, " field ", number));
      field.fixed = load_le(data_, pos_, width);
      pos_ += width;
      return true;
    }
    case WireType::LengthDelimited: {
      uint64_t length = read_varint("length");
      if (length > data_.size() - pos_) {
        malformed(str_cat("field ", number, " claims ", length, " bytes but only ", data_.size() - pos_, " remain"));
      }
      field.bytes = data_.substr(pos_, static_cast<size_t>(length));
      pos_ += static_cast<size_t>(length);
      return true;
    }
    case WireType::StartGroup:
    case WireType::EndGroup: malformed(str_cat("field ", number, " uses the unsupported group encoding"));
  }
  malformed(str_cat("field ", number, " has invalid wire type ", key & 7));
}

}  // namespace kyutai::protobuf
