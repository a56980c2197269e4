#include "io/config_reader.h"

#include <cmath>

namespace kyutai {

Json parse_config_json(const std::string& text, const std::string& document) {
  JsonLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_depth = 16;
  return Json::parse(text, document, ErrorCode::InvalidConfig, limits);
}

ConfigReader::ConfigReader(const Json& object, std::string document) : object_(object), document_(std::move(document)) {
  if (!object_.is_object())
    fail(ErrorCode::InvalidConfig, document_, ": expected a JSON object, got ", Json::type_name(object_.type()));
}

void ConfigReader::error(const std::string& key, const std::string& msg) const {
  fail(ErrorCode::InvalidConfig, document_, ": '", key, "' ", msg);
}

void ConfigReader::limit(const std::string& key, double value, double max) const {
  fail(ErrorCode::LimitExceeded, document_, ": '", key, "' = ", value, " exceeds the limit of ", max,
       " (kyutai-wasm config limit for '", key, "')");
}

bool ConfigReader::present(const std::string& key) const { return object_.find(key) != nullptr; }

bool ConfigReader::has(const std::string& key) const {
  const Json* v = object_.find(key);
  return v && !v->is_null();
}

const Json* ConfigReader::object(const std::string& key) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_object()) error(key, str_cat("must be an object, got ", Json::type_name(v->type())));
  return v;
}

int ConfigReader::to_int(const std::string& key, const Json& v, int min, int max) const {
  if (!v.is_number()) error(key, str_cat("must be an integer, got ", Json::type_name(v.type())));
  double d = v.as_number();
  if (d != std::floor(d) || !std::isfinite(d)) error(key, str_cat("must be an integer, got ", d));
  if (d > max) limit(key, d, max);
  if (d < min) error(key, str_cat("must be >= ", min, ", got ", d));
  return int(d);
}

int ConfigReader::get_int(const std::string& key, int fallback, int min, int max) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return fallback;
  return to_int(key, *v, min, max);
}

int ConfigReader::require_int(const std::string& key, int min, int max) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) error(key, "is required");
  return to_int(key, *v, min, max);
}

std::optional<int> ConfigReader::get_optional_int(const std::string& key, int min, int max) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return std::nullopt;
  return to_int(key, *v, min, max);
}

double ConfigReader::get_number(const std::string& key, double fallback, double min, double max) const {
  auto v = get_optional_number(key, min, max);
  return v ? *v : fallback;
}

std::optional<double> ConfigReader::get_optional_number(const std::string& key, double min, double max) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number()) error(key, str_cat("must be a number, got ", Json::type_name(v->type())));
  double d = v->as_number();
  if (!std::isfinite(d)) error(key, "must be finite");
  if (d > max) limit(key, d, max);
  if (d < min) error(key, str_cat("must be >= ", min, ", got ", d));
  return d;
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) error(key, str_cat("must be a boolean, got ", Json::type_name(v->type())));
  return v->as_bool();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  auto v = get_optional_string(key);
  return v ? *v : fallback;
}

std::optional<std::string> ConfigReader::get_optional_string(const std::string& key) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) error(key, str_cat("must be a string, got ", Json::type_name(v->type())));
  return v->as_string();
}

std::vector<int> ConfigReader::get_int_list(const std::string& key, int min, int max, size_t max_len) const {
  const Json* v = object_.find(key);
  if (!v || v->is_null()) return {};
  if (v->is_number()) return {to_int(key, *v, min, max)};
  if (!v->is_array()) error(key, str_cat("must be an integer or a list of integers, got ", Json::type_name(v->type())));
  const auto& arr = v->as_array();
  if (arr.size() > max_len) limit(key + " (length)", double(arr.size()), double(max_len));
  std::vector<int> out;
  for (const Json& e : arr) out.push_back(to_int(key, e, min, max));
  return out;
}

}  // namespace kyutai
