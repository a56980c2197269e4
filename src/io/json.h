// A small, strict JSON reader for config.json, safetensors headers and test vectors.
// Strict on purpose: headers come from untrusted files, so nesting depth and document size
// are bounded and strings must be valid UTF-8; every error names the document and byte offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace kyutai {

struct JsonLimits {
  int max_depth = 64;
  size_t max_bytes = size_t(256) << 20;
};

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  explicit Json(bool b) : value_(b) {}
  explicit Json(double d) : value_(d) {}
  explicit Json(std::string s) : value_(std::move(s)) {}
  explicit Json(Array a) : value_(std::move(a)) {}
  explicit Json(Object o) : value_(std::move(o)) {}

  // `what` names the document in error messages (e.g. "config.json").
  static Json parse(std::string_view text, const std::string& what, ErrorCode code, const JsonLimits& limits = {});

  Type type() const { return static_cast<Type>(value_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_number() const { return type() == Type::Number; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  // Accessors throw InvalidArgument naming `what` when the type is wrong; callers that
  // validate untrusted input check the type first and raise their own error code.
  bool as_bool(const std::string& what = "value") const;
  double as_number(const std::string& what = "value") const;
  const std::string& as_string(const std::string& what = "value") const;
  const Array& as_array(const std::string& what = "value") const;
  const Object& as_object(const std::string& what = "value") const;

  // Object lookup; nullptr when absent or when this is not an object.
  const Json* find(std::string_view key) const;
  const Json& at(std::string_view key) const;  // throws when absent

  static const char* type_name(Type t);

 private:
  std::variant<std::monostate, bool, double, std::string, Array, Object> value_;
};

// Appends `code_point` as UTF-8; shared with the tokenizer.
void append_utf8(std::string& out, uint32_t code_point);
// Length in bytes of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_sequence_length(std::string_view s, size_t i);

}  // namespace kyutai
