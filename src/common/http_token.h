// RFC 9110 §5.6.2: a `token` (header field names, methods) is one or more tchars.
// Pure; shared by the server's request checks and the proxy's header forwarding.
#pragma once

#include <cctype>
#include <string_view>

namespace signalbox {

inline bool IsHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

}  // namespace signalbox
