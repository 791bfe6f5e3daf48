#include "proxy/forward_headers.h"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace signalbox;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> Values(const Headers& h, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : h) {
    std::string lk = k;
    std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
    if (lk == name) out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("headers named in Connection are hop-by-hop and never forwarded (RFC 9110 7.6.1)",
          "[proxy][headers][security]") {
  Headers client = {{"Connection", "keep-alive, X-Hop-Secret"},
                    {"X-Hop-Secret", "s3cret"},
                    {"connection", "x-other"},
                    {"X-Other", "1"},
                    {"X-Kept", "yes"}};
  Headers out = ForwardableHeaders(client, "10.1.2.3", ForwardedFor::kReplace);
  CHECK(Values(out, "x-hop-secret").empty());
  CHECK(Values(out, "x-other").empty());
  CHECK(Values(out, "connection").empty());
  CHECK(Values(out, "x-kept") == std::vector<std::string>{"yes"});
}

TEST_CASE("a tenant cannot choose the organisation or project the gateway's key bills",
          "[proxy][headers][security]") {
  Headers client = {{"OpenAI-Organization", "org-victim"},
                    {"OpenAI-Project", "proj-x"},
                    {"OpenAI-Beta", "assistants=v2"}};
  Headers out = ForwardableHeaders(client, "10.1.2.3", ForwardedFor::kReplace);
  CHECK(Values(out, "openai-organization").empty());
  CHECK(Values(out, "openai-project").empty());
  CHECK(Values(out, "openai-beta") == std::vector<std::string>{"assistants=v2"});
}

TEST_CASE("forwarding headers: replace (default), append behind a trusted proxy, or none",
          "[proxy][headers][security]") {
  Headers client = {{"X-Forwarded-For", "6.6.6.6"},
                    {"X-Forwarded-Proto", "https"},
                    {"Forwarded", "for=6.6.6.6"},
                    {"X-Real-IP", "6.6.6.6"},
                    {"X-Forwarded-Host", "evil"}};
  SECTION("replace") {
    Headers out = ForwardableHeaders(client, "10.1.2.3", ForwardedFor::kReplace);
    CHECK(Values(out, "x-forwarded-for") == std::vector<std::string>{"10.1.2.3"});
    CHECK(Values(out, "x-forwarded-proto") == std::vector<std::string>{"http"});
    CHECK(Values(out, "forwarded").empty());
    CHECK(Values(out, "x-real-ip").empty());
    CHECK(Values(out, "x-forwarded-host").empty());
  }
  SECTION("append") {
    Headers out = ForwardableHeaders(client, "10.1.2.3", ForwardedFor::kAppend);
    CHECK(Values(out, "x-forwarded-for") == std::vector<std::string>{"6.6.6.6, 10.1.2.3"});
    CHECK(Values(out, "x-forwarded-proto") == std::vector<std::string>{"https"});
  }
  SECTION("none") {
    Headers out = ForwardableHeaders(client, "10.1.2.3", ForwardedFor::kNone);
    CHECK(Values(out, "x-forwarded-for").empty());
    CHECK(Values(out, "x-forwarded-proto").empty());
    CHECK(Values(out, "forwarded").empty());
  }
}

TEST_CASE("credentials, framing and injected values never travel upstream", "[proxy][headers]") {
  Headers client = {{"Authorization", "Bearer sk-gw"},
                    {"x-api-key", "k"},
                    {"Cookie", "a=b"},
                    {"Content-Length", "5"},
                    {"Transfer-Encoding", "chunked"},
                    {"X-Evil", "a\r\nInjected: 1"},
                    {"x-signalbox-max-cost-usd", "1"},
                    {"bad name", "x"},
                    {"Range", "bytes=0-1"}};
  Headers out = ForwardableHeaders(client, "", ForwardedFor::kReplace);
  CHECK(out.empty());
}
