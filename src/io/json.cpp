#include "io/json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace kyutai {

namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& what, ErrorCode code, const JsonLimits& limits)
      : text_(text), what_(what), code_(code), limits_(limits) {}

  Json parse_document() {
    if (text_.size() > limits_.max_bytes)
      fail(ErrorCode::LimitExceeded, what_, ": JSON document of ", text_.size(), " bytes exceeds the limit of ",
           limits_.max_bytes, " bytes");
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != text_.size()) error("unexpected trailing characters");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& msg) { fail(code_, what_, ": invalid JSON at byte ", pos_, ": ", msg); }

  void skip_ws() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') ++pos_;
      else break;
    }
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect_literal(const char* lit) {
    size_t n = std::strlen(lit);
    if (text_.substr(pos_, n) != lit) error(str_cat("expected '", lit, "'"));
    pos_ += n;
  }

  Json parse_value(int depth) {
    if (depth > limits_.max_depth)
      fail(ErrorCode::LimitExceeded, what_, ": JSON nesting deeper than the limit of ", limits_.max_depth, " levels");
    if (pos_ >= text_.size()) error("unexpected end of input");
    char c = text_[pos_];
    switch (c) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Json(parse_string());
      case 't': expect_literal("true"); return Json(true);
      case 'f': expect_literal("false"); return Json(false);
      case 'n': expect_literal("null"); return Json();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return Json(parse_number());
        error(str_cat("unexpected character '", c, "'"));
    }
  }

  Json parse_object(int depth) {
    ++pos_;
    Json::Object obj;
    skip_ws();
    if (consume('}')) return Json(std::move(obj));
    for (;;) {
      skip_ws();
      if (pos_ >= text_.size() || text_[pos_] != '"') error("expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (!consume(':')) error("expected ':'");
      skip_ws();
      Json value = parse_value(depth + 1);
      obj.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (consume(',')) continue;
      if (consume('}')) break;
      error("expected ',' or '}'");
    }
    return Json(std::move(obj));
  }

  Json parse_array(int depth) {
    ++pos_;
    Json::Array arr;
    skip_ws();
    if (consume(']')) return Json(std::move(arr));
    for (;;) {
      skip_ws();
      arr.push_back(parse_value(depth + 1));
      skip_ws();
      if (consume(',')) continue;
      if (consume(']')) break;
      error("expected ',' or ']'");
    }
    return Json(std::move(arr));
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > text_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else error("invalid \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) error("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) error("control character in string");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) error("unterminated escape");
        char e = text_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = parse_hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (!(consume('\\') && consume('u'))) error("unpaired surrogate");
              uint32_t lo = parse_hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) error("invalid low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              error("unpaired surrogate");
            }
            append_utf8(out, cp);
            break;
          }
          default: error("invalid escape");
        }
        continue;
      }
      size_t len = utf8_sequence_length(text_, pos_);
      if (len == 0) error("invalid UTF-8 in string");
      out.append(text_.substr(pos_, len));
      pos_ += len;
    }
  }

  double parse_number() {
    size_t start = pos_;
    consume('-');
    if (consume('0')) {
    } else if (pos_ < text_.size() && text_[pos_] >= '1' && text_[pos_] <= '9') {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    } else {
      error("invalid number");
    }
    if (consume('.')) {
      size_t digits = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits) error("invalid number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (!consume('+')) consume('-');
      size_t digits = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits) error("invalid number");
    }
    std::string token(text_.substr(start, pos_ - start));
    return std::strtod(token.c_str(), nullptr);
  }

  std::string_view text_;
  const std::string& what_;
  ErrorCode code_;
  JsonLimits limits_;
  size_t pos_ = 0;
};

}  // namespace

Json Json::parse(std::string_view text, const std::string& what, ErrorCode code, const JsonLimits& limits) {
  return Parser(text, what, code, limits).parse_document();
}

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

#define KYUTAI_JSON_ACCESSOR(Ret, name, T, kind)                                              \
  Ret Json::name(const std::string& what) const {                                             \
    if (auto p = std::get_if<T>(&value_)) return *p;                                          \
    fail(ErrorCode::InvalidArgument, what, ": expected a " kind ", got ", type_name(type())); \
  }
KYUTAI_JSON_ACCESSOR(bool, as_bool, bool, "boolean")
KYUTAI_JSON_ACCESSOR(double, as_number, double, "number")
KYUTAI_JSON_ACCESSOR(const std::string&, as_string, std::string, "string")
KYUTAI_JSON_ACCESSOR(const Json::Array&, as_array, Array, "array")
KYUTAI_JSON_ACCESSOR(const Json::Object&, as_object, Object, "object")
#undef KYUTAI_JSON_ACCESSOR

const Json* Json::find(std::string_view key) const {
  auto obj = std::get_if<Object>(&value_);
  if (!obj) return nullptr;
  // Duplicate keys: the last one wins, as with Python's json module (which wrote these files).
  for (auto it = obj->rbegin(); it != obj->rend(); ++it)
    if (it->first == key) return &it->second;
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  if (!v) fail(ErrorCode::InvalidArgument, "missing JSON key '", key, "'");
  return *v;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and code points past U+10FFFF.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace kyutai
