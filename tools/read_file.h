// Whole-file reads for the command-line tools (the library itself reads from memory only).
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"

namespace kyutai::tools {

// The file's bytes as a string; throws InvalidArgument naming the path when it cannot be opened.
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::InvalidArgument, "cannot open ", path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace kyutai::tools
