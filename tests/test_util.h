// Shared test helpers: fixture files, the conformance JSON tensors, comparisons.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "lm/tokens.h"

namespace kyutai::test {

std::string data_path(const std::string& relative);
std::vector<uint8_t> read_file(const std::string& path);
std::string read_text(const std::string& path);
// Parsed vectors.json of a conformance directory (cached per path).
const Json& vectors(const std::string& dir);

// A tensor from the conformance JSON: {"shape", "dtype", "data"} with null = NaN.
struct VTensor {
  std::vector<int64_t> shape;
  std::vector<float> f;    // f32 data (NaN for null)
  std::vector<int64_t> i;  // i64 / bool data
  size_t numel() const;
};
VTensor tensor(const Json& v);

// Splits a [1, K, T] token tensor into the engine's text + per-codebook input.
MultistreamInput multistream(const VTensor& codes);

// max |a - b| over all elements; NaN positions must match (NaN in both counts as equal).
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

// n floats uniform in [-scale, scale), reproducible from `seed` (the engine's Random).
std::vector<float> uniform_floats(size_t n, uint64_t seed, float scale = 1.0f);

}  // namespace kyutai::test
