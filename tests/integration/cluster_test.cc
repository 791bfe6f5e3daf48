// Several gateway replicas sharing one real redis-server (issue 12, cluster/README.md):
// a concurrent burst split across two replicas stays within the stated bound of a key's
// daily budget and exactly within its rpm; max_parallel holds across both; a replica
// killed with kill -9 leaks its slots only until its lease ends, and its ledger keeps
// every finished request; Redis stopped and restarted (with and without its data) under
// load: no request hangs, the policy holds, and the cluster totals equal the ledgers'.
#include <atomic>
#include <filesystem>
#include <thread>

#include "integration/budget_test_util.h"
#include "integration/redis_process.h"
#include "metrics/exposition_parse.h"
#include "testing/poll.h"
#include "testing/temp_dir.h"

namespace signalbox::testing::budget_it {
namespace {

using signalbox::testing::Eventually;

// A prompt whose estimate (about one token per four characters) is above the 100 prompt
// tokens the mocks report: every request's estimate is then an upper bound of its cost,
// and the bound of cluster/README.md says the budget is never exceeded.
std::string LongPrompt() { return std::string(600, 'a') + " please"; }

// Two replicas on the same mocks and Redis, each with its own state dir and ledger.
struct Cluster {
  TempDir redis_dir;  // outlives the redis-server that writes into it
  RunningMock small, large;
  RunningRedis redis;
  std::vector<BudgetOptions> opts;
  std::vector<RunningGateway> gws;

  Cluster(const std::string& team_a, const std::string& team_b,
          const std::string& cluster_extra = "", int replicas = 2) {
    small = StartOrFail(Concat({"--model", "small-model"}, kFixedUsage));
    large = StartOrFail(Concat({"--model", "large-model"}, kFixedUsage));
    auto r = StartRedis(redis_dir.path() + "/data");
    if (!r.ok()) FAIL(r.status().message());
    redis = std::move(r).value();
    for (int i = 0; i < replicas; ++i) {
      BudgetOptions o{.team_a = team_a, .team_b = team_b};
      o.rules = "    - name: default\n      route: [small]\ncluster:\n  redis: " + redis.Url() +
                "\n  lease: 2s\n" + cluster_extra;
      opts.push_back(o);
      gws.push_back(StartBudgetGateway(small, large, o));
    }
  }

  int64_t LedgerSum(const std::string& key) const {
    int64_t sum = 0;
    for (const auto& gw : gws) {
      for (const Row& row : Rows(gw.dir + "/ledger.db")) {
        if (row.key_id == key) sum += row.cost_nusd;
      }
    }
    return sum;
  }
  bool AllUp() const {
    for (const auto& gw : gws) {
      auto r = gw.Client()->Get("/readyz");
      if (!r || json::parse(r->body)["cluster"] != "up") return false;
    }
    return true;
  }
};

struct Burst {
  std::atomic<int> ok{0}, budget{0}, limited{0}, other{0};
};

// `n` requests of `key`, split over the replicas, from `threads` threads at once.
void RunBurst(const Cluster& c, const httplib::Headers& key, int n, int threads, Burst* b,
              const std::string& body) {
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto cli = c.gws[t % c.gws.size()].Client();
      for (int i = next++; i < n; i = next++) {
        auto r = cli->Post("/v1/chat/completions", key, body, "application/json");
        if (!r) {
          b->other++;
        } else if (r->status == 200) {
          b->ok++;
        } else if (r->status == 429 && r->body.find("budget_exceeded") != std::string::npos) {
          b->budget++;
        } else if (r->status == 429 && r->body.find("rate_limit_error") != std::string::npos) {
          b->limited++;
        } else {
          b->other++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
}

}  // namespace

TEST_CASE(
    "two replicas sharing Redis: a concurrent burst stays within the key's daily budget and "
    "exactly within its rpm, and /admin/spend shows the cluster totals",
    "[integration][cluster]") {
  if (!RedisAvailable()) {
    WARN("SKIPPED: redis-server missing (scripts/install-deps)");
    return;
  }
  // team-a: a budget of 10 requests' estimates; team-b: 7 requests per minute.
  Cluster c("      daily_usd: 0.003\n", "      rpm: 7\n      tpm: 1000000\n");
  const std::string body = ChatBody(LongPrompt(), false, R"("max_tokens":50)");
  json route = Route(c.gws[0], body, kA);
  const int64_t estimate = Nano(route["candidates"][0]["estimated_cost_usd"]);
  REQUIRE(estimate >= kSmallFixed);  // every estimate is an upper bound of the cost

  Burst a;
  RunBurst(c, kA, 40, 8, &a, body);
  INFO("ok " << a.ok << " budget " << a.budget << " other " << a.other);
  CHECK(a.other == 0);
  CHECK(a.budget > 0);
  CHECK(a.ok >= 1);
  // The bound (cluster/README.md) with estimates that are upper bounds: never exceeded.
  const int64_t spent = c.LedgerSum("team-a");
  CHECK(spent <= 3'000'000);
  CHECK(spent == a.ok * kSmallFixed);
  // One replica alone would have allowed as much: at least limit / estimate requests.
  CHECK(a.ok >= 3'000'000 / estimate);

  Burst b;
  RunBurst(c, kB, 20, 8, &b, ChatBody("hi"));
  CHECK(b.ok == 7);
  CHECK(b.limited == 13);
  CHECK(b.other == 0);

  // Both replicas report the cluster's totals, equal to the two ledgers together.
  for (const auto& gw : c.gws) {
    auto r = gw.Client()->Get("/admin/spend");
    REQUIRE(r);
    CHECK(r->get_header_value("x-signalbox-spend-scope") == "cluster");
    json j = json::parse(r->body);
    CHECK(Nano(KeyLine(j, "team-a")["day_usd"]) == spent);
    CHECK(Nano(KeyLine(j, "team-b")["day_usd"]) == c.LedgerSum("team-b"));
    CHECK(Nano(j["total"]["day_usd"]) == spent + c.LedgerSum("team-b"));
  }
  CHECK(Nano(KeyLine(CliSpend(c.gws[0]), "team-a")["day_usd"]) == spent);
}

TEST_CASE("two replicas sharing Redis: a concurrent burst stays within the key's tpm",
          "[integration][cluster]") {
  if (!RedisAvailable()) {
    WARN("SKIPPED: redis-server missing (scripts/install-deps)");
    return;
  }
  Cluster c("      tpm: 3000\n", "");
  const std::string body = ChatBody(LongPrompt(), false, R"("max_tokens":50)");
  json route = Route(c.gws[0], body, kA);
  const int64_t estimate =
      route["input_tokens"].get<int64_t>() + route["output_tokens"].get<int64_t>();
  constexpr int64_t kUsed = 150;  // the mocks report 100 + 50 tokens (kFixedUsage)
  REQUIRE(estimate >= kUsed);     // every estimate is an upper bound of what is settled
  Burst a;
  RunBurst(c, kA, 40, 8, &a, body);
  INFO("ok " << a.ok << " limited " << a.limited << " other " << a.other << " estimate "
             << estimate);
  CHECK(a.other == 0);
  CHECK(a.limited > 0);
  // The bound with upper-bound estimates: the tokens settled in the minute never exceed
  // tpm, and the replicas together admit at least what one replica alone would.
  CHECK(a.ok * kUsed <= 3000);
  CHECK(a.ok >= 3000 / estimate);
}

TEST_CASE(
    "max_parallel holds across replicas, and a replica killed with kill -9 frees its slots "
    "when its lease ends while its ledger keeps every finished request",
    "[integration][cluster]") {
  if (!RedisAvailable()) {
    WARN("SKIPPED: redis-server missing (scripts/install-deps)");
    return;
  }
  Cluster c("      max_parallel: 2\n", "");
  for (int i = 0; i < 3; ++i) {
    auto r = c.gws[0].Client()->Post("/v1/chat/completions",
                                     With(kA, "before-kill-" + std::to_string(i)), ChatBody("hi"),
                                     "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  // Two requests hang upstream, one through each replica: both slots are taken.
  std::vector<std::thread> hung;
  for (int i = 0; i < 2; ++i) {
    hung.emplace_back([&c, i] {
      (void)c.gws[i]
          .Client(std::chrono::seconds(60))
          ->Post("/v1/chat/completions", With(kA, "hang", {{"x-mock-fault", "hang"}}),
                 ChatBody("hi"), "application/json");
    });
  }
  REQUIRE(c.small.WaitForStats([](const json& s) { return s["in_flight"] == 2; }));
  for (const auto& gw : c.gws) {
    auto r = gw.Client()->Post("/v1/chat/completions", kA, ChatBody("hi"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 429);
    CHECK(r->body.find("at most 2 at a time") != std::string::npos);
  }
  const std::string ledger0 = c.gws[0].dir + "/ledger.db";
  c.gws[0].process->Kill();
  c.gws[0].process->Wait();
  // Its finished requests are in its ledger.
  CHECK(Rows(ledger0).size() == 3);
  // The other replica keeps serving other keys at once.
  auto other =
      c.gws[1].Client()->Post("/v1/chat/completions", kB, ChatBody("hi"), "application/json");
  REQUIRE(other);
  CHECK(other->status == 200);
  // The dead replica's slot comes back when its 2 s lease ends (the live one renews its
  // own); then exactly one more request of team-a fits.
  CHECK(Eventually([&] {
    auto r =
        c.gws[1].Client()->Post("/v1/chat/completions", kA, ChatBody("hi"), "application/json");
    return r && r->status == 200;
  }));
  c.gws[1].process->Kill();  // ends the request still hanging there
  for (auto& t : hung) t.join();
}

TEST_CASE(
    "Redis stopped and restarted with its data under load: replicas serve on their own state "
    "without hanging, then reconcile, and the cluster totals equal the ledgers",
    "[integration][cluster]") {
  if (!RedisAvailable()) {
    WARN("SKIPPED: redis-server missing (scripts/install-deps)");
    return;
  }
  Cluster c("      daily_usd: 100\n      rpm: 1000\n", "", "  timeout: 200ms\n");
  const std::string body = ChatBody("hi");
  Burst before;
  RunBurst(c, kA, 10, 4, &before, body);
  REQUIRE(before.ok == 10);
  const int port = c.redis.port;
  const std::string dir = c.redis.dir;
  CHECK(c.redis.Stop() == 0);
  Burst during;
  RunBurst(c, kA, 10, 4, &during, body);
  CHECK(during.ok == 10);  // on_unavailable: local
  CHECK(during.other == 0);
  for (const auto& gw : c.gws) {
    auto r = gw.Client()->Get("/readyz");
    REQUIRE(r);
    CHECK(r->status == 200);  // Redis does not gate readiness
    CHECK(json::parse(r->body)["cluster"] == "down");
    auto m = metrics::testing::ParseExposition(gw.Client()->Get("/metrics")->body);
    CHECK(m["signalbox_cluster_up"] == 0);
  }
  auto restarted = StartRedis(dir, port);
  REQUIRE(restarted.ok());
  c.redis = std::move(restarted).value();
  REQUIRE(Eventually([&] { return c.AllUp(); }));
  Burst after;
  RunBurst(c, kA, 10, 4, &after, body);
  CHECK(after.ok == 10);
  const int64_t ledgers = c.LedgerSum("team-a");
  CHECK(ledgers == 30 * kSmallFixed);
  REQUIRE(Eventually(
      [&] { return Nano(KeyLine(AdminSpend(c.gws[1]), "team-a")["day_usd"]) == ledgers; }));
}

TEST_CASE(
    "Redis restarted empty: every replica adds its ledger's totals once, and the totals are "
    "right again, and on_unavailable reject answers 503 while Redis is down",
    "[integration][cluster]") {
  if (!RedisAvailable()) {
    WARN("SKIPPED: redis-server missing (scripts/install-deps)");
    return;
  }
  Cluster c("      daily_usd: 100\n", "", "  on_unavailable: reject\n  timeout: 200ms\n");
  Burst before;
  RunBurst(c, kA, 12, 4, &before, ChatBody("hi"));
  REQUIRE(before.ok == 12);
  const int port = c.redis.port;
  c.redis.process->Kill();
  c.redis.process->Wait();
  for (const auto& gw : c.gws) {
    auto r = gw.Client()->Post("/v1/chat/completions", kA, ChatBody("hi"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(json::parse(r->body)["error"]["code"] == "cluster_unavailable");
    CHECK(r->has_header("retry-after"));
  }
  TempDir empty;
  auto fresh = StartRedis(empty.path() + "/data", port);
  REQUIRE(fresh.ok());
  c.redis = std::move(fresh).value();
  REQUIRE(Eventually([&] { return c.AllUp(); }));
  const int64_t ledgers = c.LedgerSum("team-a");
  CHECK(ledgers == 12 * kSmallFixed);
  CHECK(Nano(KeyLine(AdminSpend(c.gws[0]), "team-a")["day_usd"]) == ledgers);
  CHECK(Nano(KeyLine(AdminSpend(c.gws[1]), "team-a")["day_usd"]) == ledgers);
  auto r = c.gws[0].Client()->Post("/v1/chat/completions", kA, ChatBody("hi"), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
}

}  // namespace signalbox::testing::budget_it
