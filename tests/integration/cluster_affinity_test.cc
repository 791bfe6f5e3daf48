// The cluster's edges: previous_response_id affinity across replicas (a Responses answer
// served through one replica is followed up through another, sharing one real
// redis-server, and the follow-up still goes to the backend that produced the response),
// and a Redis that stalls instead of failing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/agent_util.h"
#include "integration/redis_process.h"
#include "testing/temp_dir.h"

namespace signalbox::testing {

TEST_CASE(
    "two replicas sharing Redis send a previous_response_id follow-up to the backend "
    "that produced the response",
    "[integration][cluster][agent]") {
  TempDir dir;
  auto redis = StartRedis(dir.path() + "/data");
  if (!redis.ok()) FAIL(redis.status().message());
  auto small = MustStartMock({"--model", "small-model"});
  auto large = MustStartMock({"--model", "large-model"});
  const std::string yaml = fmt::format(
      "server:\n  listen: 127.0.0.1:0\nbackends:\n"
      "  - {{name: small, url: \"{}/v1\", model: small-model, api: [chat, responses]}}\n"
      "  - {{name: large, url: \"{}/v1\", model: large-model, api: [chat, responses]}}\n"
      "budgets:\n  ledger_path: {{STATE}}/ledger.db\n"
      "cluster:\n  redis: {}\n  affinity_ttl: 1h\n"
      "router:\n  rules:\n"
      "    - {{name: pick-large, when: {{header: {{x-pick: large}}}}, route: [large, small]}}\n"
      "    - {{name: default, route: [small, large]}}\n",
      small.BaseUrl(), large.BaseUrl(), redis->Url());
  auto a = MustStartGateway(yaml);
  auto b = MustStartGateway(yaml);

  // Plain and streamed first turns through replica a, answered by large.
  auto first = a.Client()->Post("/v1/responses", {{"x-pick", "large"}},
                                R"({"model":"auto","input":"Say hi"})", "application/json");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  REQUIRE(first->get_header_value("x-signalbox-backend") == "large");
  std::string plain_id = nlohmann::json::parse(first->body)["id"];
  auto streamed =
      PostSse(a.BaseUrl(), "/v1/responses", R"({"model":"auto","input":"Say hi","stream":true})",
              {{"x-pick", "large"}});
  REQUIRE(streamed.status == 200);
  REQUIRE_FALSE(streamed.all.empty());
  std::string stream_id = nlohmann::json::parse(streamed.all.back().data)["response"]["id"];

  // The follow-ups through replica b, which never saw those responses.
  for (const std::string& id : {plain_id, stream_id}) {
    INFO(id);
    std::string follow =
        R"({"model":"auto","input":"And then?","previous_response_id":")" + id + "\"}";
    auto route = b.Client()->Post("/v1/route", follow, "application/json");
    REQUIRE(route);
    CHECK(nlohmann::json::parse(route->body)["affinity"] == "large");
    auto r = b.Client()->Post("/v1/responses", follow, "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "large");
  }
  // An id nobody produced is routed by the rules.
  auto unknown = b.Client()->Post(
      "/v1/responses", R"({"model":"auto","input":"x","previous_response_id":"resp_nobody"})",
      "application/json");
  REQUIRE(unknown);
  CHECK(unknown->get_header_value("x-signalbox-backend") == "small");
}

}  // namespace signalbox::testing

namespace signalbox::testing {
namespace {

// A TCP port that accepts connections (the kernel completes the handshake) and never
// answers: a Redis that is there but stalls.
struct SilentPort {
  int fd = -1;
  int port = 0;
  SilentPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 128) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~SilentPort() { ::close(fd); }
};

}  // namespace

TEST_CASE(
    "a Redis that accepts but never answers does not stall requests: on_unavailable "
    "local serves them and signalbox_cluster_up is 0",
    "[integration][cluster]") {
  SilentPort stalled;
  auto small = MustStartMock({"--model", "small-model"});
  const std::string yaml = fmt::format(
      "server:\n  listen: 127.0.0.1:0\nbackends:\n"
      "  - {{name: small, url: \"{}/v1\", model: small-model, api: [chat, responses]}}\n"
      "budgets:\n  ledger_path: {{STATE}}/ledger.db\n"
      "  keys:\n    - {{id: team-a, key: \"stall-key-0001\", daily_usd: 5, rpm: 100}}\n"
      "cluster:\n  redis: redis://127.0.0.1:{}/0\n  timeout: 100ms\n  on_unavailable: local\n"
      "router:\n  rules:\n    - {{name: default, route: [small]}}\n",
      small.BaseUrl(), stalled.port);
  GatewayOptions go;
  go.config_yaml = yaml;
  auto gw = StartGateway(go, std::chrono::seconds(30));
  if (!gw.ok()) FAIL(gw.status().message());
  // Each request waits at most cluster.timeout per Redis round trip, then goes local; the
  // client's 20 s read timeout is far above that, so a stall would show as a failure.
  auto cli = gw->Client(std::chrono::seconds(20));
  for (int i = 0; i < 5; ++i) {
    auto r = cli->Post("/v1/chat/completions", {{"Authorization", "Bearer stall-key-0001"}},
                       ChatBody("hello"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  auto r = cli->Post("/v1/responses", {{"Authorization", "Bearer stall-key-0001"}},
                     R"({"model":"auto","input":"x","previous_response_id":"resp_1"})",
                     "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto m = cli->Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("signalbox_cluster_up 0") != std::string::npos);
}

}  // namespace signalbox::testing
