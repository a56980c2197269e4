#include "test_util.h"

#include "lm/sampling.h"

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace kyutai::test {

std::string data_path(const std::string& relative) { return std::string(KYUTAI_TEST_DATA) + "/" + relative; }

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string read_text(const std::string& path) {
  auto bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

const Json& vectors(const std::string& dir) {
  static std::map<std::string, std::unique_ptr<Json>> cache;
  auto& slot = cache[dir];
  if (!slot) {
    JsonLimits limits;
    slot = std::make_unique<Json>(
        Json::parse(read_text(data_path(dir + "/vectors.json")), dir, ErrorCode::InvalidArgument, limits));
  }
  return *slot;
}

size_t VTensor::numel() const {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return n;
}

VTensor tensor(const Json& v) {
  VTensor t;
  for (const Json& d : v.at("shape").as_array()) t.shape.push_back(int64_t(d.as_number()));
  const std::string& dtype = v.at("dtype").as_string();
  const auto& data = v.at("data").as_array();
  if (dtype == "f32") {
    t.f.reserve(data.size());
    for (const Json& x : data) t.f.push_back(x.is_null() ? NAN : float(x.as_number()));
  } else {
    t.i.reserve(data.size());
    for (const Json& x : data) t.i.push_back(x.is_bool() ? int64_t(x.as_bool()) : int64_t(x.as_number()));
  }
  return t;
}

MultistreamInput multistream(const VTensor& codes) {
  const int K = int(codes.shape[1]), T = int(codes.shape[2]);
  MultistreamInput in;
  in.text = TokenTensor(1, T);
  for (int t = 0; t < T; ++t) in.text->at(0, t) = int32_t(codes.i[t]);
  for (int k = 1; k < K; ++k) {
    TokenTensor a(1, T);
    for (int t = 0; t < T; ++t) a.at(0, t) = int32_t(codes.i[size_t(k) * T + t]);
    in.audio.push_back(a);
  }
  return in;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    if (na || nb) {
      if (na != nb) return INFINITY;
      continue;
    }
    m = std::max(m, double(std::fabs(a[i] - b[i])));
  }
  return m;
}

std::vector<float> uniform_floats(size_t n, uint64_t seed, float scale) {
  Random rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * float(2 * rng.uniform() - 1);
  return v;
}

}  // namespace kyutai::test
