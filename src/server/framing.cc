#include "server/framing.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <string_view>

#include "common/http_token.h"

namespace signalbox::server_internal {
namespace {

// RFC 3986 host (reg-name, IPv4, [IPv6]) with an optional port; empty is allowed.
bool IsHostValue(std::string_view v) {
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("-._~%!$&'()*+,;=:[]").find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseContentLength(const std::string& v, uint64_t* out) {
  if (v.empty() || v.size() > 19) return false;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && p == v.data() + v.size();
}

// RFC 9112 3.2.2: a server must accept the absolute form of a request target
// ("POST http://host/v1/chat/completions HTTP/1.1"). httplib leaves scheme and authority
// in the path; the route lookup needs the path alone.
void NormalizeTarget(httplib::Request& req) {
  std::string_view p = req.path;
  size_t scheme = p.find("://");
  if (scheme == std::string_view::npos || scheme == 0 || scheme > 5) return;
  std::string s(p.substr(0, scheme));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s != "http" && s != "https") return;
  size_t slash = p.find('/', scheme + 3);
  req.path = slash == std::string_view::npos ? "/" : std::string(p.substr(slash));
}

std::optional<ApiError> CheckFraming(const httplib::Request& req, const FramingLimits& limits,
                                     bool reclaimed, bool bare_line_break) {
  if (reclaimed) {
    return MakeError(ErrorCode::kOverloaded,
                     "The gateway is at its connection limit; retry shortly.");
  }
  // RFC 9112 2.2: a bare CR must be refused; a bare LF line end is what httplib drops
  // silently, so the gateway and a hop in front would read different requests.
  if (bare_line_break) {
    return MakeError(ErrorCode::kInvalidLineBreak,
                     "A line of the request head ends in a bare LF or contains a bare CR.");
  }
  if (req.headers.size() > static_cast<size_t>(limits.max_headers) + 4) {  // + REMOTE_*/LOCAL_*
    return MakeError(ErrorCode::kTooManyHeaders,
                     fmt::format("The request has more than {} headers.", limits.max_headers));
  }
  // RFC 9112 5.1: a header name is a token; whitespace before the colon or a bare CR in
  // a name must be refused, or a lenient hop further on could read two headers.
  for (const auto& h : req.headers) {
    if (!IsHttpToken(h.first)) {
      return MakeError(ErrorCode::kInvalidHeaderName, "A request header name is malformed.");
    }
  }
  // RFC 9112 3.2: an HTTP/1.1 request without Host, or with two, or with an invalid one,
  // is a 400.
  size_t hosts = req.get_header_value_count("Host");
  if (hosts > 1) {
    return MakeError(ErrorCode::kInvalidHost, "The request has more than one Host header.");
  }
  if (hosts == 0 && req.version != "HTTP/1.0") {
    return MakeError(ErrorCode::kInvalidHost, "An HTTP/1.1 request needs a Host header.");
  }
  if (hosts == 1 && !IsHostValue(req.get_header_value("Host"))) {
    return MakeError(ErrorCode::kInvalidHost, "The Host header is malformed.");
  }
  for (const char* name : {"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"}) {
    if (req.get_header_value_count(name) > 1) {
      return MakeError(ErrorCode::kReservedHeader,
                       fmt::format("The header '{}' is reserved.", name));
    }
  }
  if (req.path.size() > limits.max_path || req.target.size() > 2 * limits.max_path) {
    return MakeError(ErrorCode::kUriTooLong, "The request path is too long.");
  }
  if (req.method != "GET" && req.method != "POST" && req.method != "HEAD") {
    return MakeError(ErrorCode::kMethodNotAllowed, "Only GET and POST are supported.");
  }
  if (req.has_header("Transfer-Encoding")) {
    return MakeError(ErrorCode::kLengthRequired,
                     "Chunked request bodies are not accepted; send a Content-Length.");
  }
  if (req.has_header("Content-Encoding")) {
    return MakeError(ErrorCode::kUnsupportedContentEncoding,
                     "Compressed request bodies are not accepted.");
  }
  size_t cl_count = req.get_header_value_count("Content-Length");
  if (cl_count > 1) {
    return MakeError(ErrorCode::kInvalidContentLength,
                     "The request has more than one Content-Length.");
  }
  if (req.method == "POST" && cl_count == 0) {
    return MakeError(ErrorCode::kLengthRequired, "A POST needs a Content-Length.");
  }
  if (cl_count == 1) {
    uint64_t len = 0;
    if (!ParseContentLength(req.get_header_value("Content-Length"), &len)) {
      return MakeError(ErrorCode::kInvalidContentLength,
                       "The Content-Length is not a decimal number.");
    }
    if (len > limits.max_body_bytes) {
      return MakeError(
          ErrorCode::kRequestTooLarge,
          fmt::format("The request body is larger than {} bytes.", limits.max_body_bytes));
    }
  }
  return std::nullopt;
}

}  // namespace signalbox::server_internal
