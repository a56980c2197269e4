// Error type shared by the whole engine: one exception class with a stable code, so that
// the Embind layer can turn it into a JS Error subclass carrying the same code.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kyutai {

enum class ErrorCode {
  InvalidArgument,    // caller passed something malformed (shape, token id, missing input)
  InvalidCheckpoint,  // safetensors bytes or tensor set do not match what the config requires
  InvalidConfig,      // config.json is malformed or names an unsupported combination
  LimitExceeded,      // a size refuses to fit a stated limit (memory, header size, ...)
  Unsupported,        // valid request the engine does not implement
  InvalidState,       // operation not allowed in the object's current state
  Internal,
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  const char* code_name() const { return error_code_name(code_); }

 private:
  ErrorCode code_;
};

// Concatenates its arguments with operator<<; keeps error sites to one readable line.
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, Args&&... args) {
  throw Error(code, str_cat(std::forward<Args>(args)...));
}

}  // namespace kyutai
