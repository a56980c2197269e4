// Helpers shared by the Embind translation units: typed arrays in and out, and errors.
//
// Every bound method returns a JS value; a C++ exception is caught here and returned as a
// JS Error object (name "KyutaiError", a stable `code`). The package's JS layer
// (web/src/engine.js) rethrows it. Returning instead of throwing through WebAssembly frames
// means no C++ destructor is ever skipped and the instance stays healthy after any error.
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "bind_checks.h"
#include "core/error.h"
#include "nn/weight_loader.h"

namespace kyutai::wasm {

using emscripten::val;

inline val make_error(const char* code, const std::string& message) {
  val err = val::global("Error").new_(val(message));
  err.set("name", val("KyutaiError"));
  err.set("code", val(code));
  err.set("kyutaiError", val(true));
  return err;
}

template <typename F>
val guarded(F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    return make_error(e.code_name(), e.what());
  } catch (const std::bad_alloc&) {
    return make_error("OUT_OF_MEMORY", "out of memory: the WebAssembly heap could not grow");
  } catch (const std::exception& e) {
    return make_error("INTERNAL", e.what());
  }
}

// Name of a JS value's constructor ("Int32Array", "Float32Array", "Array", ...).
inline std::string js_type(const val& v) {
  if (v.isNull() || v.isUndefined()) return "nothing";
  std::string t = v.typeOf().as<std::string>();
  if (t != "object") return t;
  return v["constructor"]["name"].as<std::string>();
}

template <typename T>
val to_typed_array(const T* data, size_t n) {
  // A view on the heap, copied into a JS-owned array (the heap may move or be reused).
  return val(emscripten::typed_memory_view(n, data)).call<val>("slice");
}
template <typename T>
val to_typed_array(const std::vector<T>& v) {
  return to_typed_array(v.data(), v.size());
}

inline val int_array(const std::vector<int64_t>& v) {
  val a = val::array();
  for (size_t i = 0; i < v.size(); ++i) a.set(i, val(double(v[i])));
  return a;
}

// Options objects from JS: each value's type is checked before conversion, because a failed
// Embind conversion throws a JS exception through the WebAssembly frames and skips C++
// destructors. Absent (undefined/null) keys give nullopt.
std::optional<double> number_option(const val& options, const char* key);
std::optional<bool> bool_option(const val& options, const char* key);
std::optional<std::string> string_option(const val& options, const char* key);
// A number option that must be an integer in lo..hi (checked_integer: no cast before the check).
std::optional<int64_t> integer_option(const val& options, const char* key, int64_t lo, int64_t hi);
// {format: 'auto'|'f32'|'bf16'|'q8'|'q4', threads: n}
LoadOptions load_options(const val& options);

// Reads an Int32Array (or a plain array of integers) into a vector; `what` names it in errors.
std::vector<int32_t> read_int32(const val& v, const std::string& what);
std::vector<float> read_float32(const val& v, const std::string& what);

}  // namespace kyutai::wasm
