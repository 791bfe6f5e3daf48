// Load balancing across deployments of one backend, end to end against real
// signalbox-mock processes: weight distribution, least-in-flight under a slow
// deployment, a dead deployment ejected and recovered, session affinity, and failover
// to another deployment before the route's next backend.
#include <set>
#include <thread>

#include "integration/balance_util.h"

using namespace signalbox::testing;
using namespace signalbox::testing::resil;
using namespace signalbox::testing::balance;
using nlohmann::json;

namespace {

std::vector<RunningMock> StartMocks(int n, const std::vector<std::string>& extra = {}) {
  std::vector<RunningMock> out;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args = {"--model", "pool-model"};
    args.insert(args.end(), extra.begin(), extra.end());
    out.push_back(MustStartMock(args));
  }
  return out;
}

}  // namespace

TEST_CASE("weights 1:1:2 share 2000 requests 25/25/50", "[integration][balance]") {
  auto mocks = StartMocks(3);
  for (const char* policy : {"least_inflight", "round_robin"}) {
    INFO("balance: " << policy);
    for (auto& m : mocks) m.ResetStats();
    auto gw = MustStartGateway(
        PoolConfig({{mocks[0].BaseUrl(), 1}, {mocks[1].BaseUrl(), 1}, {mocks[2].BaseUrl(), 2}},
                   fmt::format("    balance: {}\n", policy)));
    auto cli = KeepAliveClient(gw);
    const int n = std::string(policy) == "round_robin" ? 400 : 2000;
    for (int i = 0; i < n; ++i) {
      auto r = cli->Post("/v1/chat/completions", ChatBody("hi"), "application/json");
      REQUIRE(r);
      REQUIRE(r->status == 200);
    }
    std::vector<double> share;
    for (auto& m : mocks) share.push_back(double(Chats(m)) / n);
    INFO("shares " << share[0] << " " << share[1] << " " << share[2]);
    CHECK(Chats(mocks[0]) + Chats(mocks[1]) + Chats(mocks[2]) == n);
    // Sequential requests see no load: least_inflight is weight-proportional (binomial
    // sd ~1 point at 2000); round robin is exact.
    CHECK(share[0] == Approx(0.25).margin(0.04));
    CHECK(share[1] == Approx(0.25).margin(0.04));
    CHECK(share[2] == Approx(0.50).margin(0.04));
  }
}

TEST_CASE("a slow deployment loses share under least_inflight", "[integration][balance]") {
  auto fast = StartMocks(2);
  auto slow = MustStartMock({"--model", "pool-model", "--latency", "100"});
  auto gw = MustStartGateway(
      PoolConfig({{fast[0].BaseUrl(), 1}, {fast[1].BaseUrl(), 1}, {slow.BaseUrl(), 1}}));
  constexpr int kClients = 8, kEach = 60;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&] {
      auto cli = KeepAliveClient(gw);
      for (int i = 0; i < kEach; ++i) {
        auto r = cli->Post("/v1/chat/completions", ChatBody("hi"), "application/json");
        if (r && r->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kClients * kEach);
  int64_t s = Chats(slow), f0 = Chats(fast[0]), f1 = Chats(fast[1]);
  INFO("slow " << s << " fast " << f0 << " " << f1);
  CHECK(s + f0 + f1 == kClients * kEach);
  // Equal weights would give each a third; the slow one holds requests longer, so it
  // wins a draw only against itself or an equally busy peer.
  CHECK(s * 2 < f0);
  CHECK(s * 2 < f1);
}

TEST_CASE("a dead deployment takes no traffic once ejected and gets it back after recovery",
          "[integration][balance]") {
  auto live = StartMocks(2);
  int dead_port = FreePort();
  auto gw = MustStartGateway(PoolConfig(
      {{live[0].BaseUrl(), 1}, {live[1].BaseUrl(), 1}, {UrlOfPort(dead_port), 1, "spare"}},
      "    circuit: {failures: 1, cooldown: 60s}\n"
      "    health_check: {interval: 100ms, path: /models}\n"));
  auto cli = KeepAliveClient(gw);
  auto deployment_up = [&](bool want) {
    auto r = gw.Client()->Get("/readyz");
    if (!r) return false;
    json j = json::parse(r->body);  // kept: a range-for over a temporary's part dangles
    for (const auto& d : j["backends"][0]["deployments"])
      if (d["name"] == "spare") return d["up"] == want;
    return false;
  };
  auto poll = [&](bool want) {
    for (int i = 0; i < 500 && !deployment_up(want); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return deployment_up(want);
  };
  // A connect failure (from traffic or the health check) ejects it.
  REQUIRE(poll(false));
  for (int i = 0; i < 60; ++i) {
    std::string id = NextId("dead");
    auto r = cli->Post("/v1/chat/completions", {{"x-request-id", id}}, ChatBody("hi"),
                       "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto line = AccessLine(gw, id);
    CHECK(line["attempts"] == 1);
    CHECK(DeploymentOf(line) != "spare");
  }
  CHECK(Chats(live[0]) + Chats(live[1]) == 60);
  // The dry run shows which deployments could take the request.
  auto route = gw.Client()->Post("/v1/route", ChatBody("hi"), "application/json");
  REQUIRE(route);
  json dj = json::parse(route->body);
  const json& deps = dj["candidates"][0]["deployments"];
  REQUIRE(deps.size() == 3);
  CHECK(deps[0]["eligible"] == true);
  CHECK(deps[2]["name"] == "spare");
  CHECK(deps[2]["eligible"] == false);
  CHECK(deps[2]["circuit"] == "open");
  CHECK(Chats(live[0]) > 10);
  CHECK(Chats(live[1]) > 10);

  // It comes back: a mock on its port; the health check closes its circuit.
  auto revived =
      MustStartMock({"--model", "pool-model", "--listen", fmt::format("127.0.0.1:{}", dead_port)});
  REQUIRE(poll(true));
  for (int i = 0; i < 90; ++i) {
    auto r = cli->Post("/v1/chat/completions", ChatBody("hi"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  INFO("revived got " << Chats(revived));
  CHECK(Chats(revived) > 10);  // about a third of 90
}

TEST_CASE("affinity keeps a session on one deployment and a new deployment moves few",
          "[integration][balance]") {
  auto mocks = StartMocks(4);
  auto config = [&](int n) {
    std::vector<Dep> deps;
    for (int i = 0; i < n; ++i) deps.push_back({mocks[i].BaseUrl(), 1});
    return PoolConfig(deps, "    affinity: header:x-session-id\n");
  };
  auto gw = MustStartGateway(config(3));
  auto cli = KeepAliveClient(gw);
  constexpr int kSessions = 60;
  auto send = [&](int session, const std::string& tag) {
    std::string id = NextId(tag.c_str());
    auto r = cli->Post("/v1/chat/completions",
                       {{"x-request-id", id}, {"x-session-id", fmt::format("sess-{}", session)}},
                       ChatBody("hi"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    return DeploymentOf(AccessLine(gw, id));
  };
  std::vector<std::string> home(kSessions);
  std::map<std::string, int> spread;
  for (int s = 0; s < kSessions; ++s) {
    home[s] = send(s, "aff");
    ++spread[home[s]];
    for (int i = 0; i < 4; ++i) CHECK(send(s, "aff") == home[s]);
  }
  CHECK(spread.size() == 3);  // sessions spread over every deployment

  // A fourth deployment: only the sessions it now wins move (about a quarter), to it.
  gw.WriteConfig(config(4));
  auto rel = gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(rel);
  REQUIRE(rel->status == 200);
  int moved = 0;
  for (int s = 0; s < kSessions; ++s) {
    std::string now = send(s, "aff4");
    if (now != home[s]) {
      ++moved;
      CHECK(now == "3");
    }
  }
  INFO("moved " << moved << " of " << kSessions);
  CHECK(moved > 0);
  CHECK(moved < kSessions / 2);
}

TEST_CASE("a failed deployment moves to another deployment before the next backend",
          "[integration][balance]") {
  auto good = MustStartMock({"--model", "pool-model"});
  auto other = MustStartMock({"--model", "other-model"});
  auto limited = MustStartMock({"--model", "pool-model", "--fault", "429:30"});
  std::string other_backend =
      fmt::format("  - name: other\n    url: {}/v1\n    model: other-model\n", other.BaseUrl());
  SECTION("connect failure") {
    // round_robin starts at the first deployment: the dead one.
    auto gw = MustStartGateway(PoolConfig({{UrlOfPort(FreePort()), 1}, {good.BaseUrl(), 1}},
                                          "    balance: round_robin\n", "", other_backend,
                                          "[pool, other]"));
    std::string id = NextId("failover");
    auto r = PostChat(gw, ChatBody("hi"), {{"x-request-id", id}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "pool");
    auto line = AccessLine(gw, id);
    CHECK(line["attempts"] == 2);
    CHECK(DeploymentOf(line) == "1");
    CHECK(Chats(good) == 1);
    CHECK(Chats(other) == 0);
  }
  SECTION("429 rests on its deployment only") {
    auto gw = MustStartGateway(PoolConfig({{limited.BaseUrl(), 1}, {good.BaseUrl(), 1}},
                                          "    balance: round_robin\n", "", other_backend,
                                          "[pool, other]"));
    for (int i = 0; i < 6; ++i) {
      std::string id = NextId("limited");
      auto r = PostChat(gw, ChatBody("hi"), {{"x-request-id", id}});
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->get_header_value("x-signalbox-backend") == "pool");
      CHECK(DeploymentOf(AccessLine(gw, id)) == "1");
    }
    CHECK(Counter(limited, "requests") == 1);  // retry-after 30 s: skipped from then on
    CHECK(Chats(good) == 6);
    CHECK(Chats(other) == 0);
  }
  SECTION("every deployment failed: then the next backend") {
    auto gw = MustStartGateway(PoolConfig({{UrlOfPort(FreePort()), 1}, {limited.BaseUrl(), 1}}, "",
                                          "", other_backend, "[pool, other]"));
    std::string id = NextId("next-backend");
    auto r = PostChat(gw, ChatBody("hi"), {{"x-request-id", id}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "other");
    CHECK(AccessLine(gw, id)["attempts"] == 3);
  }
}

TEST_CASE("a Responses follow-up goes to the deployment that produced its previous response",
          "[integration][balance]") {
  auto mocks = StartMocks(3);
  auto gw = MustStartGateway(
      PoolConfig({{mocks[0].BaseUrl(), 1}, {mocks[1].BaseUrl(), 1}, {mocks[2].BaseUrl(), 1}},
                 "    api: [chat, responses]\n    balance: round_robin\n"));
  auto cli = KeepAliveClient(gw);
  std::set<std::string> homes;
  for (int conversation = 0; conversation < 6; ++conversation) {
    std::string id = NextId("resp");
    auto r = cli->Post("/v1/responses", {{"x-request-id", id}},
                       R"({"model":"auto","input":"Start."})", "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    std::string home = DeploymentOf(AccessLine(gw, id));
    homes.insert(home);
    std::string previous = json::parse(r->body)["id"];
    for (int turn = 0; turn < 5; ++turn) {
      std::string tid = NextId("resp-turn");
      auto t = cli->Post(
          "/v1/responses", {{"x-request-id", tid}},
          R"({"model":"auto","input":"And then?","previous_response_id":")" + previous + "\"}",
          "application/json");
      REQUIRE(t);
      REQUIRE(t->status == 200);
      CHECK(DeploymentOf(AccessLine(gw, tid)) == home);
      previous = json::parse(t->body)["id"];
    }
  }
  // First turns rotate (round_robin); follow-ups stay where their conversation lives.
  CHECK(homes.size() == 3);
}
