#include "bind_util.h"

#include <cmath>

namespace kyutai::wasm {

std::vector<int32_t> read_int32(const val& v, const std::string& what) {
  std::string type = js_type(v);
  if (type == "Int32Array" || type == "Int16Array" || type == "Int8Array" || type == "Uint8Array" ||
      type == "Uint16Array")
    return emscripten::convertJSArrayToNumberVector<int32_t>(v);
  if (type == "Array") {
    std::vector<double> raw = emscripten::convertJSArrayToNumberVector<double>(v);
    std::vector<int32_t> out(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != std::floor(raw[i]) || std::fabs(raw[i]) > 2147483647.0)
        fail(ErrorCode::InvalidArgument, what, ": element ", i, " (", raw[i], ") is not a 32-bit integer");
      out[i] = int32_t(raw[i]);
    }
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
