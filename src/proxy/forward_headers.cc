#include "proxy/forward_headers.h"

#include <algorithm>
#include <cctype>

#include "common/http_token.h"

namespace signalbox {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool SafeValue(std::string_view value) {
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;  // could inject a header
  }
  return true;
}

// Headers that never travel as the client sent them.
bool AlwaysDropped(const std::string& lower) {
  static const char* const kDrop[] = {
      // credentials
      "authorization", "api-key", "x-api-key", "cookie", "proxy-authorization",
      // hop-by-hop and framing (RFC 9110 7.6.1, RFC 9112)
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
      "upgrade", "host", "content-length", "content-type", "content-encoding", "accept",
      "accept-encoding", "expect", "x-request-id", "remote_addr", "remote_port", "local_addr",
      "local_port",
      // conditional and partial requests: an upstream would answer 206/304 to them
      "range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
      // billing identity: the gateway's, set per backend
      "openai-organization", "openai-project"};
  for (const char* d : kDrop) {
    if (lower == d) return true;
  }
  return lower.rfind("x-signalbox-", 0) == 0 || lower.rfind("sec-", 0) == 0;
}

bool IsForwardingHeader(const std::string& lower) {
  return lower == "x-forwarded-for" || lower == "x-forwarded-proto" ||
         lower == "x-forwarded-host" || lower == "x-forwarded-port" || lower == "forwarded" ||
         lower == "x-real-ip";
}

// The lower-case names listed in every Connection header.
std::vector<std::string> ConnectionOptions(
    const std::vector<std::pair<std::string, std::string>>& client) {
  std::vector<std::string> out;
  for (const auto& [name, value] : client) {
    if (Lower(name) != "connection") continue;
    std::string_view v = value;
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view tok = Trim(v.substr(0, comma));
      if (!tok.empty()) out.push_back(Lower(tok));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ForwardableHeaders(
    const std::vector<std::pair<std::string, std::string>>& client, std::string_view peer,
    ForwardedFor policy) {
  std::vector<std::string> hop = ConnectionOptions(client);
  std::vector<std::pair<std::string, std::string>> out;
  std::string client_xff;
  for (const auto& [name, value] : client) {
    std::string lower = Lower(name);
    if (AlwaysDropped(lower) || !IsHttpToken(lower) || !SafeValue(value)) continue;
    if (std::find(hop.begin(), hop.end(), lower) != hop.end()) continue;
    if (IsForwardingHeader(lower)) {
      if (policy != ForwardedFor::kAppend) continue;
      if (lower == "x-forwarded-for") {
        client_xff += client_xff.empty() ? value : ", " + value;
        continue;
      }
    }
    out.emplace_back(name, value);
  }
  if (policy == ForwardedFor::kNone || peer.empty()) return out;
  std::string xff = policy == ForwardedFor::kAppend && !client_xff.empty()
                        ? client_xff + ", " + std::string(peer)
                        : std::string(peer);
  out.emplace_back("X-Forwarded-For", std::move(xff));
  bool has_proto = std::any_of(out.begin(), out.end(),
                               [](const auto& h) { return Lower(h.first) == "x-forwarded-proto"; });
  if (!has_proto) out.emplace_back("X-Forwarded-Proto", "http");
  return out;
}

std::vector<std::pair<std::string, std::string>> ForwardableHeaders(const Exchange& ex,
                                                                    ForwardedFor policy) {
  std::vector<std::pair<std::string, std::string>> client;
  ex.ForEachHeader([&](std::string_view name, std::string_view value) {
    client.emplace_back(std::string(name), std::string(value));
  });
  return ForwardableHeaders(client, ex.remote_addr(), policy);
}

}  // namespace signalbox
