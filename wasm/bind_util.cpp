#include "bind_util.h"

namespace kyutai::wasm {

namespace {
val option_value(const val& options, const char* key) {
  if (options.isUndefined() || options.isNull()) return val::undefined();
  if (js_type(options) == "number" || js_type(options) == "string" || js_type(options) == "boolean")
    fail(ErrorCode::InvalidArgument, "options must be an object, got ", js_type(options));
  return options[key];
}
}  // namespace

std::optional<double> number_option(const val& options, const char* key) {
  val v = option_value(options, key);
  if (v.isUndefined() || v.isNull()) return std::nullopt;
  if (!v.isNumber()) fail(ErrorCode::InvalidArgument, "option '", key, "' must be a number, got ", js_type(v));
  return v.as<double>();
}

std::optional<bool> bool_option(const val& options, const char* key) {
  val v = option_value(options, key);
  if (v.isUndefined() || v.isNull()) return std::nullopt;
  if (!v.isTrue() && !v.isFalse())
    fail(ErrorCode::InvalidArgument, "option '", key, "' must be a boolean, got ", js_type(v));
  return v.isTrue();
}

std::optional<std::string> string_option(const val& options, const char* key) {
  val v = option_value(options, key);
  if (v.isUndefined() || v.isNull()) return std::nullopt;
  if (!v.isString()) fail(ErrorCode::InvalidArgument, "option '", key, "' must be a string, got ", js_type(v));
  return v.as<std::string>();
}

std::optional<int64_t> integer_option(const val& options, const char* key, int64_t lo, int64_t hi) {
  auto v = number_option(options, key);
  if (!v) return std::nullopt;
  return checked_integer(*v, std::string("option '") + key + "'", lo, hi);
}

LoadOptions load_options(const val& options) {
  LoadOptions opt;
  val format = option_value(options, "format");
  if (!format.isUndefined() && !format.isNull() && !format.isString())
    fail(ErrorCode::InvalidArgument, "weight format must be a string (auto, f32, bf16, q8, q4), got ", js_type(format));
  if (auto f = string_option(options, "format"); f && *f != "auto") {
    WeightFormat wf;
    if (!parse_weight_format(*f, &wf))
      fail(ErrorCode::InvalidArgument, "weight format '", *f, "' is not one of auto, f32, bf16, q8, q4");
    opt.format = wf;
  }
  if (auto t = integer_option(options, "threads", 1, 64)) opt.threads = int(*t);
  if (auto k = string_option(options, "kvCache"); k && !parse_kv_format(*k, &opt.kv_cache))
    fail(ErrorCode::InvalidArgument, "option 'kvCache' must be 'f32' or 'bf16', got '", *k, "'");
  if (auto a = bool_option(options, "allowNonFinite")) opt.allow_non_finite = *a;
  return opt;
}

std::vector<int32_t> read_int32(const val& v, const std::string& what) {
  std::string type = js_type(v);
  if (type == "Int32Array" || type == "Int16Array" || type == "Int8Array" || type == "Uint8Array" ||
      type == "Uint16Array")
    return emscripten::convertJSArrayToNumberVector<int32_t>(v);
  if (type == "Array") {
    std::vector<double> raw = emscripten::convertJSArrayToNumberVector<double>(v);
    std::vector<int32_t> out(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) out[i] = checked_int32_element(raw[i], what, i);
    return out;
  }
  fail(ErrorCode::InvalidArgument, what, ": expected an Int32Array of token ids, got ", type,
       " (token dtype must be an integer type)");
}

std::vector<float> read_float32(const val& v, const std::string& what) {
  std::string type = js_type(v);
  if (type == "Float32Array" || type == "Float64Array" || type == "Array")
    return emscripten::convertJSArrayToNumberVector<float>(v);
  fail(ErrorCode::InvalidArgument, what, ": expected a Float32Array, got ", type);
}

}  // namespace kyutai::wasm
