// In-flight counts per deployment are released on every exit path: every fault the mock
// can inject, plain and streamed, plus clients that hang up, run at once against a
// two-deployment backend; the counts are seen above zero while requests hang, and every
// signalbox_deployment_inflight series is back at 0 at the end.
#include <thread>

#include "integration/balance_util.h"

using namespace signalbox::testing;
using namespace signalbox::testing::resil;
using namespace signalbox::testing::balance;

TEST_CASE("every fault ends with all deployment in-flight counts at zero",
          "[integration][balance]") {
  auto a = MustStartMock({"--model", "pool-model"});
  auto b = MustStartMock({"--model", "pool-model"});
  auto gw = MustStartGateway(
      PoolConfig({{a.BaseUrl(), 1}, {b.BaseUrl(), 2}},
                 "    timeouts: {connect: 1s, first_byte: 1s, idle: 1s, total: 10s}\n"
                 "    retries: 1\n"
                 "    circuit: {failures: 1000, cooldown: 1s}\n",
                 "  retry_budget: {ratio: 1.0, min: 100}\n"));
  auto initial = DeploymentInflight(gw);
  REQUIRE(initial.size() == 2);
  CHECK(initial["pool/0"] == 0);
  CHECK(initial["pool/1"] == 0);

  // Plain and streamed requests with each fault, 2 of each at once. The 429s go in a
  // second wave: their retry-after would rest both deployments and refuse the rest.
  const std::vector<std::string> faults = {"none",          "500",
                                           "503",           "401",
                                           "400",           "reset",
                                           "hang",          "cut:2",
                                           "stall:2",       "error-event",
                                           "error-event:2", "malformed:1",
                                           "empty-stream",  "slow-first-byte:300",
                                           "redirect"};
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  auto launch = [&](const std::string& f) {
    for (int copy = 0; copy < 2; ++copy) {
      threads.emplace_back([&, f] {
        auto r = PostChat(gw, ChatBody("hi"), {{"x-mock-fault", f}});
        if (r) answered.fetch_add(1);
      });
      threads.emplace_back([&, f] {
        auto s = PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                         {{"x-mock-fault", f}}, nullptr, std::chrono::seconds(30));
        if (s.status != 0) answered.fetch_add(1);
      });
    }
  };
  for (const auto& f : faults) launch(f);
  // Clients that leave: a stream hung up after its first event, a stream and a plain
  // request hung up while the upstream hangs or stalls (before the first byte).
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
              {{"x-mock-token-interval-ms", "50"}}, [](const SseResponse&) { return true; });
    });
    threads.emplace_back([&] {
      PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
              {{"x-mock-fault", "hang"}}, nullptr, std::chrono::milliseconds(300));
    });
    threads.emplace_back([&] {
      PostChat(gw, ChatBody("hi"), {{"x-mock-fault", "stall:0"}}, std::chrono::milliseconds(300));
    });
  }
  // While the hanging requests wait for their first byte, the gauge shows them.
  bool seen_busy = false;
  for (int i = 0; i < 200 && !seen_busy; ++i) {
    for (const auto& [k, v] : DeploymentInflight(gw)) seen_busy |= v > 0;
    if (!seen_busy) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(seen_busy);
  for (auto& t : threads) t.join();
  threads.clear();
  launch("429:1");
  for (auto& t : threads) t.join();
  CHECK(answered == int(faults.size() + 1) * 4);

  CHECK(WaitAllInflightZero(gw));
  auto end = DeploymentInflight(gw);
  CHECK(end["pool/0"] == 0);
  CHECK(end["pool/1"] == 0);
  // Both deployments took traffic, and the attempts are counted per deployment.
  CHECK(Counter(a, "requests") > 0);
  CHECK(Counter(b, "requests") > 0);
  auto m = gw.Client()->Get("/metrics");
  REQUIRE(m);
  INFO(m->body);
  // A 500 on one deployment moves to the other: both count upstream_5xx attempts.
  for (const char* d : {"0", "1"}) {
    CHECK(m->body.find(fmt::format(R"(signalbox_deployment_attempts_total{{backend="pool",)"
                                   R"(deployment="{}",outcome="upstream_5xx"}})",
                                   d)) != std::string::npos);
  }
  CHECK(m->body.find(R"(outcome="ok"})") != std::string::npos);
  // /readyz agrees.
  auto ready = gw.Client()->Get("/readyz");
  REQUIRE(ready);
  auto j = nlohmann::json::parse(ready->body);
  for (const auto& d : j["backends"][0]["deployments"]) CHECK(d["inflight"] == 0);
}
