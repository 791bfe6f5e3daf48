// YamlReader: walks a yaml-cpp node tree against the config schema and collects every
// problem as "FILE:LINE:COL: path: message" with 1-based positions.
//
// One-per-load, not thread-safe. yaml-cpp 0.7 gives 0-based marks and no mark at all
// for a missing node, so every error is reported at the nearest node that exists (the
// parent map for a missing key). yaml-cpp also accepts duplicate keys silently; every
// map the reader opens is checked for them, and for keys the schema does not know.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/did_you_mean.h"
#include "config/config.h"
#include "config/env_expand.h"

namespace signalbox {

class YamlReader {
 public:
  YamlReader(std::string file, EnvLookup env) : file_(std::move(file)), env_(std::move(env)) {}

  static SourcePos PosOf(const YAML::Node& n, SourcePos fallback);

  void Error(SourcePos pos, std::string_view path, std::string_view msg);
  void Warn(SourcePos pos, std::string_view path, std::string_view msg);
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Checks that `n` is a map with only `allowed` keys and no duplicates; reports each
  // problem. Returns false if `n` is not a map (then the caller skips its children).
  bool ExpectMap(const YAML::Node& n, const std::string& path, SourcePos parent,
                 const std::vector<std::string_view>& allowed);
  // Checks that `n` is a map with string keys and no duplicates (free-form maps).
  bool ExpectFreeMap(const YAML::Node& n, const std::string& path, SourcePos parent);
  bool ExpectSeq(const YAML::Node& n, const std::string& path, SourcePos parent);

  // The expanded text of a scalar, or nullopt (error reported) if it is not a scalar
  // or its ${VAR} expansion fails.
  std::optional<std::string> Scalar(const YAML::Node& n, const std::string& path, SourcePos parent);

  // Typed getters for map[key]. A missing key (or an explicit null) leaves *out as is
  // and returns false; a bad value reports an error and returns false.
  bool GetString(const YAML::Node& map, const char* key, const std::string& path, std::string* out);
  bool GetBool(const YAML::Node& map, const char* key, const std::string& path, bool* out);
  bool GetInt(const YAML::Node& map, const char* key, const std::string& path, int64_t* out,
              int64_t min, int64_t max);
  bool GetDouble(const YAML::Node& map, const char* key, const std::string& path, double* out,
                 double min, double max);
  bool GetDuration(const YAML::Node& map, const char* key, const std::string& path, Duration* out);
  bool GetSize(const YAML::Node& map, const char* key, const std::string& path, uint64_t* out);
  // A string or a list of strings.
  bool GetStringList(const YAML::Node& map, const char* key, const std::string& path,
                     std::vector<std::string>* out);

  // Parses a scalar node (not a map entry) with the converters above.
  std::optional<double> ToDouble(const YAML::Node& n, const std::string& path, SourcePos parent,
                                 double min, double max);
  std::optional<bool> ToBool(const YAML::Node& n, const std::string& path, SourcePos parent);

  static std::string Join(const std::string& path, std::string_view key);
  static std::string Index(const std::string& path, size_t i);

 private:
  const std::string file_;
  const EnvLookup env_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

}  // namespace signalbox
