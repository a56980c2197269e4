// Minimal reader for the protobuf wire format (proto2 encoding), enough to walk a
// SentencePiece ModelProto without linking libprotobuf. Every read is bounds-checked: the
// bytes may come from any file a user picks, so malformed input throws kyutai::Error
// (ErrorCode::InvalidCheckpoint) naming the message being read, and never reads past the
// buffer. The reader does not own the bytes; they must outlive it and the views it hands out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kyutai::protobuf {

enum class WireType : uint8_t {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,  // deprecated groups: rejected, ModelProto never uses them
  EndGroup = 4,
  Fixed32 = 5,
};

// One decoded field. Only the member matching `type` is meaningful.
struct Field {
  uint32_t number = 0;
  WireType type = WireType::Varint;
  uint64_t varint = 0;     // Varint
  uint64_t fixed = 0;      // Fixed32 (low 32 bits) or Fixed64
  std::string_view bytes;  // LengthDelimited: payload (string, bytes or sub-message)

  // Typed accessors; each checks the wire type and throws naming the field otherwise.
  uint64_t as_uint64(std::string_view context) const;
  int32_t as_int32(std::string_view context) const;  // proto int32/enum (two's complement)
  bool as_bool(std::string_view context) const;
  float as_float(std::string_view context) const;  // proto `float` (fixed32, IEEE-754 LE)
  std::string_view as_bytes(std::string_view context) const;
};

// Iterates over the fields of one message, in wire order (repeated fields appear once per
// element; proto2 semantics such as "last scalar wins" are left to the caller).
class Reader {
 public:
  // `context` names the message in error messages, e.g. "ModelProto.pieces[3]".
  Reader(std::string_view data, std::string context);

  // Reads the next field into `field`; returns false at the end of the message.
  bool next(Field& field);

 private:
  uint64_t read_varint(const char* what);
  [[noreturn]] void malformed(const std::string& why) const;

  std::string_view data_;
  size_t pos_ = 0;
  std::string context_;
};

}  // namespace kyutai::protobuf
