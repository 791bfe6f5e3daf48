#include "config/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "config/units.h"

namespace signalbox {
namespace {

std::string KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "undefined";
  }
}

}  // namespace

SourcePos YamlReader::PosOf(const YAML::Node& n, SourcePos fallback) {
  if (!n.IsDefined()) return fallback;
  YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0) return fallback;
  return SourcePos{m.line + 1, m.column + 1};
}

void YamlReader::Error(SourcePos pos, std::string_view path, std::string_view msg) {
  errors_.push_back(fmt::format("{}:{}:{}: {}{}{}", file_, pos.line, pos.col, path,
                                path.empty() ? "" : ": ", msg));
}

void YamlReader::Warn(SourcePos pos, std::string_view path, std::string_view msg) {
  warnings_.push_back(fmt::format("{}:{}:{}: {}{}{}", file_, pos.line, pos.col, path,
                                  path.empty() ? "" : ": ", msg));
}

std::string YamlReader::Join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string YamlReader::Index(const std::string& path, size_t i) {
  return fmt::format("{}[{}]", path, i);
}

bool YamlReader::ExpectFreeMap(const YAML::Node& n, const std::string& path, SourcePos parent) {
  if (!n.IsMap()) {
    Error(PosOf(n, parent), path, "must be a map, found " + KindName(n));
    return false;
  }
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    SourcePos kp = PosOf(it->first, PosOf(n, parent));
    if (!it->first.IsScalar()) {
      Error(kp, path, "keys must be plain strings");
      continue;
    }
    const std::string& k = it->first.Scalar();
    if (!seen.insert(k).second) Error(kp, Join(path, k), "duplicate key");
  }
  return true;
}

bool YamlReader::ExpectMap(const YAML::Node& n, const std::string& path, SourcePos parent,
                           const std::vector<std::string_view>& allowed) {
  if (!ExpectFreeMap(n, path, parent)) return false;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& k = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      Error(PosOf(it->first, PosOf(n, parent)), Join(path, k),
            "unknown key" + DidYouMean(k, allowed));
    }
  }
  return true;
}

bool YamlReader::ExpectSeq(const YAML::Node& n, const std::string& path, SourcePos parent) {
  if (!n.IsSequence()) {
    Error(PosOf(n, parent), path, "must be a list, found " + KindName(n));
    return false;
  }
  return true;
}

std::optional<std::string> YamlReader::Scalar(const YAML::Node& n, const std::string& path,
                                              SourcePos parent) {
  if (n.IsNull()) return std::string();
  if (!n.IsScalar()) {
    Error(PosOf(n, parent), path, "must be a single value, found " + KindName(n));
    return std::nullopt;
  }
  auto expanded = ExpandEnv(n.Scalar(), env_);
  if (!expanded.ok()) {
    Error(PosOf(n, parent), path, expanded.status().message());
    return std::nullopt;
  }
  return std::move(expanded).value();
}

bool YamlReader::GetString(const YAML::Node& map, const char* key, const std::string& path,
                           std::string* out) {
  YAML::Node n = map[key];
  if (!n.IsDefined()) return false;
  auto s = Scalar(n, Join(path, key), PosOf(map, {}));
  if (!s) return false;
  *out = std::move(*s);
  return true;
}

std::optional<bool> YamlReader::ToBool(const YAML::Node& n, const std::string& path,
                                       SourcePos parent) {
  auto s = Scalar(n, path, parent);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "True" || *s == "TRUE") return true;
  if (*s == "false" || *s == "False" || *s == "FALSE") return false;
  Error(PosOf(n, parent), path, fmt::format("must be true or false, not '{}'", *s));
  return std::nullopt;
}

bool YamlReader::GetBool(const YAML::Node& map, const char* key, const std::string& path,
                         bool* out) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  auto b = ToBool(n, Join(path, key), PosOf(map, {}));
  if (!b) return false;
  *out = *b;
  return true;
}

bool YamlReader::GetInt(const YAML::Node& map, const char* key, const std::string& path,
                        int64_t* out, int64_t min, int64_t max) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string p = Join(path, key);
  auto s = Scalar(n, p, PosOf(map, {}));
  if (!s) return false;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || ptr != s->data() + s->size()) {
    Error(PosOf(n, {}), p, fmt::format("must be an integer, not '{}'", *s));
    return false;
  }
  if (v < min || v > max) {
    Error(PosOf(n, {}), p, fmt::format("must be between {} and {}, not {}", min, max, v));
    return false;
  }
  *out = v;
  return true;
}

std::optional<double> YamlReader::ToDouble(const YAML::Node& n, const std::string& path,
                                           SourcePos parent, double min, double max) {
  auto s = Scalar(n, path, parent);
  if (!s) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (s->empty() || ec != std::errc() || ptr != s->data() + s->size() || !std::isfinite(v)) {
    Error(PosOf(n, parent), path, fmt::format("must be a number, not '{}'", *s));
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(PosOf(n, parent), path, fmt::format("must be between {} and {}, not {}", min, max, v));
    return std::nullopt;
  }
  return v;
}

bool YamlReader::GetDouble(const YAML::Node& map, const char* key, const std::string& path,
                           double* out, double min, double max) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  auto v = ToDouble(n, Join(path, key), PosOf(map, {}), min, max);
  if (!v) return false;
  *out = *v;
  return true;
}

bool YamlReader::GetDuration(const YAML::Node& map, const char* key, const std::string& path,
                             Duration* out) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string p = Join(path, key);
  auto s = Scalar(n, p, PosOf(map, {}));
  if (!s) return false;
  auto d = ParseDuration(*s);
  if (!d) {
    Error(PosOf(n, {}), p, fmt::format("invalid duration '{}' (use e.g. 500ms, 2s, 5m, 1h)", *s));
    return false;
  }
  *out = *d;
  return true;
}

bool YamlReader::GetSize(const YAML::Node& map, const char* key, const std::string& path,
                         uint64_t* out) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string p = Join(path, key);
  auto s = Scalar(n, p, PosOf(map, {}));
  if (!s) return false;
  auto v = ParseSize(*s);
  if (!v) {
    Error(PosOf(n, {}), p, fmt::format("invalid size '{}' (use e.g. 65536, 512KiB, 8MiB)", *s));
    return false;
  }
  *out = *v;
  return true;
}

bool YamlReader::GetStringList(const YAML::Node& map, const char* key, const std::string& path,
                               std::vector<std::string>* out) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string p = Join(path, key);
  out->clear();
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      auto s = Scalar(n[i], Index(p, i), PosOf(n, {}));
      if (!s) return false;
      out->push_back(std::move(*s));
    }
    return true;
  }
  auto s = Scalar(n, p, PosOf(map, {}));
  if (!s) return false;
  out->push_back(std::move(*s));
  return true;
}

}  // namespace signalbox
