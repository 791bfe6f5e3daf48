// Hot reload end to end: SIGHUP, POST /admin/reload and file changes; a bad config keeps
// the old one serving; requests in flight finish on the config they started with.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/sse_client.h"

using namespace signalbox::testing;
using nlohmann::json;

namespace {

const char* kToLarge = R"(    - name: default
      route: [large, small]
)";

struct ReloadFixture {
  RunningMock small, large;
  RunningGateway gw;
  explicit ReloadFixture(const std::vector<std::string>& mock_args = {}) {
    std::vector<std::string> s = {"--model", "small-model"}, l = {"--model", "large-model"};
    s.insert(s.end(), mock_args.begin(), mock_args.end());
    l.insert(l.end(), mock_args.begin(), mock_args.end());
    auto ms = StartMock(s);
    auto ml = StartMock(l);
    REQUIRE(ms.ok());
    REQUIRE(ml.ok());
    small = std::move(ms).value();
    large = std::move(ml).value();
    GatewayOptions o;
    o.config_yaml = TwoBackendConfig(small, large);
    auto g = StartGateway(o);
    if (!g.ok()) FAIL(g.status().message());
    gw = std::move(g).value();
  }
  void WriteConfig(const std::string& yaml) { gw.WriteConfig(yaml); }
  std::string Backend() {
    auto r = gw.Client()->Post("/v1/chat/completions", ChatBody("hi"), "application/json");
    REQUIRE(r);
    return r->get_header_value("x-signalbox-backend");
  }
  // Polls until a plain request lands on `backend`.
  bool WaitForBackend(const std::string& backend) {
    for (int i = 0; i < 200; ++i) {
      if (Backend() == backend) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  json AdminConfig() {
    auto r = gw.Client()->Get("/admin/config");
    REQUIRE(r);
    return json::parse(r->body);
  }
};

}  // namespace

TEST_CASE("SIGHUP reloads the config", "[integration][reload]") {
  ReloadFixture f;
  CHECK(f.Backend() == "small");
  f.WriteConfig(TwoBackendConfig(f.small, f.large, "", "", kToLarge));
  // The file watcher may get there first; either way the new rules apply.
  f.gw.process->Signal(SIGHUP);
  CHECK(f.WaitForBackend("large"));
  CHECK(f.AdminConfig()["version"].get<int>() >= 2);
}

TEST_CASE("POST /admin/reload answers with the new version or 422 with every error",
          "[integration][reload]") {
  ReloadFixture f;
  f.WriteConfig(TwoBackendConfig(f.small, f.large, "", "", kToLarge));
  auto ok = f.gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body)["ok"] == true);
  CHECK(f.Backend() == "large");
  int version = f.AdminConfig()["version"];

  // A broken config: unknown backend in a route and a bad duration. Rejected as a whole.
  std::string bad = TwoBackendConfig(f.small, f.large, "  timeouts: {read: soon}\n", "",
                                     "    - name: default\n      route: [nope]\n");
  f.WriteConfig(bad);
  auto rej = f.gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(rej);
  CHECK(rej->status == 422);
  auto body = json::parse(rej->body);
  CHECK(body["error"]["code"] == "invalid_config");
  REQUIRE(body["errors"].size() == 2);
  CHECK(body["errors"].dump().find("unknown backend 'nope'") != std::string::npos);
  CHECK(body["errors"].dump().find("invalid duration 'soon'") != std::string::npos);
  // The previous config keeps serving, and /admin/config shows the failure.
  CHECK(f.Backend() == "large");
  json cfg = f.AdminConfig();
  CHECK(cfg["version"] == version);
  CHECK(cfg["last_reload"]["ok"] == false);
  CHECK(cfg["last_reload"]["errors"].size() == 2);
  auto metrics = f.gw.Client()->Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("signalbox_config_reloads_total{result=\"failure\"} ") !=
        std::string::npos);
  CHECK(metrics->body.find("signalbox_config_reloads_total{result=\"failure\"} 0") ==
        std::string::npos);
}

TEST_CASE("an edited config file is picked up without a signal", "[integration][reload]") {
  ReloadFixture f;
  CHECK(f.Backend() == "small");
  f.WriteConfig(TwoBackendConfig(f.small, f.large, "", "", kToLarge));
  CHECK(f.WaitForBackend("large"));
  CHECK(f.gw.WaitForLog("config reloaded"));
}

TEST_CASE("streams in flight finish on the config they started with", "[integration][reload]") {
  ReloadFixture f({"--token-interval", "40", "--tokens", "25"});
  constexpr int kStreams = 8;
  std::vector<std::future<SseResponse>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::async(std::launch::async, [&] {
      return PostSse(f.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true));
    }));
  }
  REQUIRE(f.small.WaitForCounter("streams_started", kStreams));
  auto ok = f.gw.Client()->Post("/admin/reload", "", "application/json");  // file unchanged
  REQUIRE(ok);
  CHECK(json::parse(ok->body)["unchanged"] == true);
  f.WriteConfig(TwoBackendConfig(f.small, f.large, "", "", kToLarge));
  auto r = f.gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  for (auto& s : streams) {
    SseResponse res = s.get();
    CHECK(res.status == 200);
    CHECK(res.Done());
    CHECK(res.events.size() == 27);  // role + 25 tokens + [DONE]
    auto first = json::parse(res.events[0]);
    CHECK(first["model"] == "small-model");
  }
  CHECK(f.Backend() == "large");
}
