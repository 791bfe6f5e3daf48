#include "config/env_expand.h"

#include <cctype>
#include <cstdlib>

namespace signalbox {

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

StatusOr<std::string> ExpandEnv(std::string_view in, const EnvLookup& env) {
  if (in.find('$') == std::string_view::npos) return std::string(in);
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < in.size() && in[i + 1] == '$') {  // $$ -> $
      out += '$';
      i += 2;
      continue;
    }
    if (i + 1 >= in.size() || in[i + 1] != '{') {  // a lone $ stays
      out += c;
      ++i;
      continue;
    }
    size_t close = in.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated ${ in value (missing '}')");
    }
    std::string_view body = in.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> def;
    bool empty_counts_as_unset = false;
    if (size_t p = body.find(":-"); p != std::string_view::npos) {
      name = body.substr(0, p);
      def = body.substr(p + 2);
      empty_counts_as_unset = true;
    } else if (size_t q = body.find('-'); q != std::string_view::npos) {
      name = body.substr(0, q);
      def = body.substr(q + 1);
    }
    if (!ValidName(name)) {
      return InvalidArgument("invalid environment variable reference ${" + std::string(body) + "}");
    }
    auto val = env(std::string(name));
    if (val && !(empty_counts_as_unset && val->empty())) {
      out += *val;
    } else if (def) {
      out += *def;
    } else {
      return InvalidArgument("environment variable " + std::string(name) + " is not set (use ${" +
                             std::string(name) + ":-default} to allow it to be unset)");
    }
    i = close + 1;
  }
  return out;
}

}  // namespace signalbox
