// Shared helpers of the resilience tests (resilience_test.cc, resilience_stream_test.cc):
// a config builder with per-backend settings, free ports, and checks of the error shape.
#pragma once

#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/sse_client.h"

namespace signalbox::testing::resil {

using Clock = std::chrono::steady_clock;

// A port nothing listens on (bound, then closed): connecting to it is refused.
inline int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(s);
  return ntohs(a.sin_port);
}

inline std::string UrlOfPort(int port) { return fmt::format("http://127.0.0.1:{}", port); }

// One backend of a test config. `extra` lines are indented 4 spaces.
struct BackendSpec {
  std::string name;
  std::string url;  // without /v1
  std::string extra;
};

// A config with the given backends (model "<name>-model"), the ledger in {STATE},
// `server_extra` (lines indented 2 spaces) under server:, and one rule routing every
// request along `route`.
inline std::string Config(const std::vector<BackendSpec>& backends,
                          const std::string& server_extra = "",
                          const std::string& route = "[small, large]") {
  std::string out = "server:\n  listen: 127.0.0.1:0\n" + server_extra + "\nbackends:\n";
  for (const auto& b : backends) {
    out += fmt::format(
        "  - name: {0}\n    url: {1}/v1\n    model: {0}-model\n"
        "    price: {{input_per_mtok: 0.10, output_per_mtok: 0.30}}\n{2}\n",
        b.name, b.url, b.extra);
  }
  out +=
      "budgets:\n  ledger_path: {STATE}/ledger.db\nrouter:\n  rules:\n    - name: default\n      "
      "route: " +
      route + "\n";
  return out;
}

inline RunningMock MustStartMock(const std::vector<std::string>& args) {
  auto m = StartMock(args);
  INFO((m.ok() ? std::string() : m.status().message()));
  REQUIRE(m.ok());
  return std::move(m).value();
}

inline RunningGateway MustStartGateway(const std::string& yaml) {
  GatewayOptions opts;
  opts.config_yaml = yaml;
  auto g = StartGateway(opts);
  INFO((g.ok() ? std::string() : g.status().message()) << "\nconfig:\n" << yaml);
  REQUIRE(g.ok());
  return std::move(g).value();
}

inline int64_t Counter(const RunningMock& m, const char* name) {
  auto s = m.Stats();
  REQUIRE(s.is_object());
  return s.value(name, int64_t{-1});
}

// A unique x-request-id for finding the request's access-log line.
inline std::string NextId(const char* prefix) {
  static std::atomic<int> n{0};
  return fmt::format("{}-{}", prefix, ++n);
}

inline httplib::Result PostChat(const RunningGateway& gw, const std::string& body,
                                httplib::Headers headers = {},
                                std::chrono::milliseconds read_timeout = std::chrono::seconds(30)) {
  httplib::Client c("127.0.0.1", gw.port);
  c.set_read_timeout(read_timeout);
  c.set_connection_timeout(std::chrono::seconds(5));
  return c.Post("/v1/chat/completions", headers, body, "application/json");
}

// Checks OpenAI's error shape {"error":{"message":str,"type":str,"param":str|null,"code":str|null}}
// and returns the error object.
inline nlohmann::json CheckErrorBody(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  INFO("body: " << body);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  const auto& e = j["error"];
  REQUIRE(e.is_object());
  CHECK(e["message"].is_string());
  CHECK(e["type"].is_string());
  CHECK((e["param"].is_null() || e["param"].is_string()));
  CHECK((e["code"].is_null() || e["code"].is_string()));
  return e;
}

// A complete error response of `status` in OpenAI's shape, with x-request-id.
inline nlohmann::json CheckErrorResponse(const httplib::Result& r, int status) {
  REQUIRE(r);
  INFO("status " << r->status << " body: " << r->body);
  CHECK(r->status == status);
  CHECK(r->get_header_value("Content-Type").rfind("application/json", 0) == 0);
  CHECK_FALSE(r->get_header_value("x-request-id").empty());
  return CheckErrorBody(r->body);
}

// The message names no upstream URL, host or port.
inline void CheckNoUpstreamAddress(const std::string& message, const std::vector<int>& ports) {
  INFO("message: " << message);
  CHECK(message.find("http://") == std::string::npos);
  CHECK(message.find("https://") == std::string::npos);
  CHECK(message.find("127.0.0.1") == std::string::npos);
  for (int p : ports) CHECK(message.find(std::to_string(p)) == std::string::npos);
}

inline nlohmann::json AccessLine(const RunningGateway& gw, const std::string& id) {
  auto line = gw.WaitForAccess([&](const nlohmann::json& j) { return j["request_id"] == id; });
  INFO("no access-log line for " << id);
  REQUIRE(line);
  return *line;
}

// The access-log line's `error` ("" when it is null or absent).
inline std::string ErrorOf(const nlohmann::json& line) {
  auto it = line.find("error");
  return it != line.end() && it->is_string() ? it->get<std::string>() : "";
}

// The `content` of a chat.completion.chunk event ("" when there is none).
inline std::string DeltaContent(const std::string& event) {
  auto j = nlohmann::json::parse(event, nullptr, false);
  if (!j.is_object() || !j["choices"].is_array() || j["choices"].empty()) return "";
  const auto& d = j["choices"][0]["delta"];
  return d.is_object() && d["content"].is_string() ? d["content"].get<std::string>() : "";
}

// Every event but [DONE] is a JSON chunk without an error, from `model`.
inline void CheckCleanStream(const SseResponse& r, const std::string& model) {
  INFO("raw: " << r.raw);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  CHECK(r.Done());
  REQUIRE(r.events.size() >= 2);
  for (size_t i = 0; i + 1 < r.events.size(); ++i) {
    auto j = nlohmann::json::parse(r.events[i], nullptr, false);
    CHECK(j.is_object());
    CHECK_FALSE(j.contains("error"));
    CHECK(j.value("model", "") == model);
  }
}

}  // namespace signalbox::testing::resil
