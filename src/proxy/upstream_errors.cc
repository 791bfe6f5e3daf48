#include "proxy/upstream_errors.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "openai/error.h"

namespace signalbox {

std::string ScrubUrls(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t h = text.find("http", i);
    if (h == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    std::string_view rest = text.substr(h);
    if (rest.substr(0, 7) == "http://" || rest.substr(0, 8) == "https://") {
      out.append(text.substr(i, h - i));
      out += "[url]";
      size_t end = h;
      while (end < text.size() && text[end] != ' ' && text[end] != '"' && text[end] != '\'' &&
             text[end] != '\n' && text[end] != ')') {
        ++end;
      }
      i = end;
    } else {
      out.append(text.substr(i, h - i + 4));
      i = h + 4;
    }
  }
  return out;
}

std::string SanitizedUpstreamError(int status, std::string_view body, ErrorShape shape) {
  std::string message = fmt::format("The model backend rejected the request (HTTP {}).", status);
  std::string type, code, param;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto err = j.find("error");
    if (err != j.end() && err->is_object()) {
      auto str = [&](const char* k) -> std::string {
        auto it = err->find(k);
        return it != err->end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      std::string msg = str("message");
      if (!msg.empty()) message = ScrubUrls(msg.substr(0, 2000));
      type = str("type").substr(0, 64);
      code = str("code").substr(0, 64);
      param = str("param").substr(0, 128);
    } else if (err != j.end() && err->is_string()) {
      message = ScrubUrls(err->get<std::string>().substr(0, 2000));
    }
  }
  return ErrorBody(
      RelayedError(status, std::move(type), std::move(code), std::move(param), std::move(message)),
      shape);
}

}  // namespace signalbox
