// Typed, bounded access to the keys of a JSON config. Every error names the document, the
// key, what was expected and what was found; every size has a limit that names itself, so a
// hostile config is refused before anything is allocated.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/json.h"

namespace kyutai {

// A config file's JSON, with the bounds every config gets: 1 MiB (configs are a few KiB) and
// 16 levels of nesting; errors are InvalidConfig naming `document`.
Json parse_config_json(const std::string& text, const std::string& document);

class ConfigReader {
 public:
  ConfigReader(const Json& object, std::string document);

  bool has(const std::string& key) const;      // present and not null
  bool present(const std::string& key) const;  // present, possibly null
  int get_int(const std::string& key, int fallback, int min, int max) const;
  int require_int(const std::string& key, int min, int max) const;
  std::optional<int> get_optional_int(const std::string& key, int min, int max) const;
  double get_number(const std::string& key, double fallback, double min, double max) const;
  std::optional<double> get_optional_number(const std::string& key, double min, double max) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> get_optional_string(const std::string& key) const;
  // An int or a list of ints.
  std::vector<int> get_int_list(const std::string& key, int min, int max, size_t max_len) const;
  const Json* object(const std::string& key) const;  // nullptr when absent or null

  [[noreturn]] void error(const std::string& key, const std::string& msg) const;
  [[noreturn]] void limit(const std::string& key, double value, double max) const;
  const std::string& document() const { return document_; }

 private:
  int to_int(const std::string& key, const Json& v, int min, int max) const;
  const Json& object_;
  std::string document_;
};

}  // namespace kyutai
