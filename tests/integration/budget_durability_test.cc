// What outlives one request in the budget machinery, through the real gateway: the spend
// ledger (SPEC "Cost budget": spend is committed before the client receives the end of
// its response; catalogue §1.7.1, §1.7.2, §1.7.6 and cases 40 and 45) and reservations.
// A graceful restart keeps every total, a stream still running at SIGTERM finishes and
// is counted, a kill -9 loses no request whose response a client read to the end and
// counts none twice; a concurrent burst cannot spend past a budget, and no exit path of
// a request leaves its reservation behind.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "integration/budget_test_util.h"
#include "testing/temp_dir.h"

namespace signalbox::testing::budget_it {
namespace {

httplib::Headers Auth(const char* key, const std::string& id,
                      std::initializer_list<std::pair<std::string, std::string>> more = {}) {
  return With({{"Authorization", std::string("Bearer ") + key}}, id, more);
}

struct Sums {
  std::map<std::string, int64_t> keys, backends;
  int64_t total = 0;
};

Sums SumRows(const std::vector<Row>& rows) {
  Sums s;
  for (const Row& r : rows) {
    s.keys[r.key_id] += r.cost_nusd;
    s.backends[r.backend] += r.cost_nusd;
    s.total += r.cost_nusd;
  }
  return s;
}

void CheckSpendMatchesRows(const json& spend, const std::vector<Row>& rows) {
  Sums s = SumRows(rows);
  for (const auto& [k, v] : s.keys) {
    INFO("key " << k);
    CHECK(Nano(KeyLine(spend, k)["day_usd"]) == v);
    CHECK(Nano(KeyLine(spend, k)["month_usd"]) == v);
  }
  for (const auto& [b, v] : s.backends) {
    INFO("backend " << b);
    CHECK(Nano(BackendLine(spend, b)["day_usd"]) == v);
  }
  CHECK(Nano(spend["total"]["day_usd"]) == s.total);
  CHECK(Nano(spend["total"]["month_usd"]) == s.total);
}

}  // namespace

TEST_CASE(
    "restart durability: after SIGTERM, a gateway started on the same ledger reports the same "
    "spend and enforces the same budget",
    "[integration][budget][durability]") {
  RunningMock small = StartOrFail(Concat({"--model", "small-model"}, kFixedUsage));
  RunningMock large = StartOrFail(Concat({"--model", "large-model"}, kFixedUsage));
  TempDir dir("signalbox-ledger");
  BudgetOptions o{.team_a = "      daily_usd: 1\n", .ledger_path = dir.path() + "/ledger.db"};
  const std::string ledger = dir.path() + "/ledger.db";
  const char* large_body = R"({"model":"large","messages":[{"role":"user","content":"hello"}]})";
  json before, route_before;
  std::vector<Row> rows_before;
  constexpr int kRequests = 12;
  {
    RunningGateway gw = StartBudgetGateway(small, large, o);
    auto cli = gw.Client();
    for (int i = 0; i < kRequests; ++i) {
      const char* key = i % 2 ? kKeyB : kKeyA;
      std::string id = fmt::format("restart-{:02}", i);
      switch (i % 4) {
        case 0: {
          auto r =
              cli->Post("/v1/chat/completions", Auth(key, id), ChatBody("hi"), "application/json");
          REQUIRE(r);
          CHECK(r->status == 200);
          break;
        }
        case 1:
          CHECK(PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), Auth(key, id))
                    .Done());
          break;
        case 2: {
          auto r = cli->Post("/v1/chat/completions", Auth(key, id), large_body, "application/json");
          REQUIRE(r);
          CHECK(r->status == 200);
          break;
        }
        default:
          CHECK(PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                        Auth(key, id, {{"x-mock-usage", "none"}}))
                    .Done());
      }
    }
    before = AdminSpend(gw);
    route_before = Route(gw, ChatBody("hi"), Auth(kKeyA, "route-1"))["budget"];
    rows_before = Rows(ledger);
    REQUIRE(rows_before.size() == kRequests);
    REQUIRE(gw.process->Signal(SIGTERM));
    auto rc = gw.process->WaitFor(std::chrono::seconds(30));
    INFO(gw.process->Output());
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
  }
  RunningGateway gw = StartBudgetGateway(small, large, o);
  json after = AdminSpend(gw);
  CHECK(after == before);
  CheckSpendMatchesRows(after, rows_before);
  auto rows_after = Rows(ledger);
  REQUIRE(rows_after.size() == rows_before.size());
  for (size_t i = 0; i < rows_after.size(); ++i) {
    CHECK(rows_after[i].request_id == rows_before[i].request_id);
    CHECK(rows_after[i].cost_nusd == rows_before[i].cost_nusd);
  }
  // The rebuilt totals are what budgets are checked against.
  CHECK(Route(gw, ChatBody("hi"), Auth(kKeyA, "route-2"))["budget"] == route_before);
  CHECK(Nano(route_before["day_remaining_usd"]) ==
        1'000'000'000 - SumRows(rows_before).keys["team-a"]);
  CHECK(CliSpend(gw) == after);
}

TEST_CASE(
    "SIGTERM while a stream is relayed: the stream finishes during the drain, the gateway exits 0 "
    "and the stream's spend is in the ledger",
    "[integration][budget][durability]") {
  RunningMock small = StartOrFail(Concat({"--model", "small-model"}, kFixedUsage));
  RunningMock large = StartOrFail(Concat({"--model", "large-model"}, kFixedUsage));
  TempDir dir("signalbox-ledger");
  BudgetOptions o{.ledger_path = dir.path() + "/ledger.db"};
  const std::string ledger = dir.path() + "/ledger.db";
  RunningGateway gw = StartBudgetGateway(small, large, o);
  bool signalled = false;
  auto r = PostSse(
      gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
      Auth(kKeyA, "drain-stream", {{"x-mock-tokens", "40"}, {"x-mock-token-interval-ms", "20"}}),
      [&](const SseResponse& s) {
        if (s.events.size() == 3) signalled = gw.process->Signal(SIGTERM);
        return false;
      });
  REQUIRE(signalled);
  CHECK(r.status == 200);
  CHECK(r.Done());
  CHECK(r.events.size() == 42);  // role + 40 tokens + [DONE]: nothing was cut
  auto rc = gw.process->WaitFor(std::chrono::seconds(30));
  INFO(gw.process->Output());
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  auto rows = Rows(ledger);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].request_id == "drain-stream");
  CHECK(rows[0].outcome == "ok");
  CHECK_FALSE(rows[0].estimated);
  CHECK(rows[0].cost_nusd == kSmallFixed);
  RunningGateway again = StartBudgetGateway(small, large, o);
  CHECK(Nano(KeyLine(AdminSpend(again), "team-a")["day_usd"]) == kSmallFixed);
}

TEST_CASE("kill -9 durability: every response a client read to the end is in the ledger, once",
          "[integration][budget][durability]") {
  RunningMock small = StartOrFail(Concat({"--model", "small-model"}, kFixedUsage));
  RunningMock large = StartOrFail(Concat({"--model", "large-model"}, kFixedUsage));
  TempDir dir("signalbox-ledger");
  BudgetOptions o{.ledger_path = dir.path() + "/ledger.db"};
  const std::string ledger = dir.path() + "/ledger.db";
  RunningGateway gw = StartBudgetGateway(small, large, o);

  constexpr int kClients = 4;
  constexpr size_t kBeforeKill = 80;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> completed;  // GUARDED_BY(mu): responses read to the end
  std::set<std::string> sent;          // GUARDED_BY(mu)
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  const std::string base = gw.BaseUrl();
  const int port = gw.port;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(std::chrono::seconds(10));
      c.set_keep_alive(true);
      for (int i = 0; !stop.load(); ++i) {
        std::string id = fmt::format("k9-{}-{:04}", t, i);
        const char* key = (t + i) % 2 ? kKeyB : kKeyA;
        {
          std::lock_guard<std::mutex> l(mu);
          sent.insert(id);
        }
        bool whole = false;
        if (i % 2 == 0) {
          auto r =
              c.Post("/v1/chat/completions", Auth(key, id), ChatBody("hi"), "application/json");
          if (!r) break;  // the gateway is gone
          auto j = json::parse(r->body, nullptr, false);
          whole = r->status == 200 && j.is_object() && j.contains("usage");
        } else {
          auto s = PostSse(base, "/v1/chat/completions", ChatBody("hi", true), Auth(key, id));
          if (s.status == 0) break;
          whole = s.status == 200 && s.Done();
        }
        if (whole) {
          std::lock_guard<std::mutex> l(mu);
          completed.push_back(id);
          cv.notify_all();
        }
      }
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(60), [&] { return completed.size() >= kBeforeKill; });
  }
  gw.process->Kill();  // while the clients are still sending
  stop = true;
  for (auto& th : clients) th.join();
  gw.process->Wait();
  std::vector<std::string> done;
  std::set<std::string> all_sent;
  {
    std::lock_guard<std::mutex> l(mu);
    done = completed;
    all_sent = sent;
  }
  REQUIRE(done.size() >= kBeforeKill);

  auto rows = Rows(ledger);
  std::map<std::string, int> per_request;
  for (const Row& r : rows) {
    ++per_request[r.request_id];
    CHECK(all_sent.count(r.request_id) == 1);
  }
  size_t lost = 0, doubled = 0;
  for (const auto& id : done) {
    int n = per_request.count(id) ? per_request[id] : 0;
    if (n == 0) ++lost;
    if (n > 1) ++doubled;
  }
  INFO(done.size() << " responses read to the end, " << rows.size() << " rows");
  CHECK(lost == 0);
  CHECK(doubled == 0);
  for (const Row& r : rows) {
    if (std::find(done.begin(), done.end(), r.request_id) == done.end()) continue;
    CHECK(r.attempt == 1);
    CHECK(r.cost_nusd == kSmallFixed);
    CHECK(r.outcome == "ok");
  }

  // A new gateway on the same file rebuilds exactly the rows' totals.
  RunningGateway again = StartBudgetGateway(small, large, o);
  json spend = AdminSpend(again);
  CheckSpendMatchesRows(spend, Rows(ledger));
  CHECK(CliSpend(again) == spend);
}

TEST_CASE(
    "no reservation outlives its request: after every kind of ending, the key can spend "
    "exactly what is left",
    "[integration][budget]") {
  // Input and output at $1 per Mtok, so an estimate of N micro-dollars is N tokens: a
  // request can be built to cost exactly what is left. Only `small` routes.
  BudgetGateway g({.small_args = kFixedUsage,
                   .small_price = "{input_per_mtok: 1.00, output_per_mtok: 1.00}",
                   .team_a = "      daily_usd: 0.05\n",
                   .backend_extra = "    timeouts: {first_byte: 5s}\n",
                   .rules = "    - name: default\n      route: [small]\n"});
  auto cli = g.gw.Client();
  std::vector<std::string> ids;
  auto next = [&ids](const std::string& name) {
    ids.push_back(name);
    return name;
  };
  auto post = [&](const std::string& name,
                  std::initializer_list<std::pair<std::string, std::string>> h,
                  const std::string& body = ChatBody("hi")) {
    auto r = cli->Post("/v1/chat/completions", With(kA, next(name), h), body, "application/json");
    REQUIRE(r);
    return r->status;
  };
  CHECK(post("ok-plain", {}) == 200);
  CHECK(PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                With(kA, next("ok-stream")))
            .Done());
  CHECK(!PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                 With(kA, next("cut"), {{"x-mock-fault", "cut:3"}}))
             .Done());
  PostSse(
      g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
      With(kA, next("gone-mid"), {{"x-mock-tokens", "400"}, {"x-mock-token-interval-ms", "20"}}),
      [](const SseResponse& s) { return s.events.size() >= 3; });
  PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
          With(kA, next("gone-ttft"), {{"x-mock-fault", "hang"}}), nullptr,
          std::chrono::milliseconds(300));
  CHECK(post("upstream-503", {{"x-mock-fault", "503"}}) == 503);
  CHECK(post("upstream-400", {{"x-mock-fault", "400"}}) == 400);
  // A 429 puts its backend in a cool-down: let it hit `large` (explicit), not `small`.
  CHECK(post("upstream-429", {{"x-mock-fault", "429"}},
             R"({"model":"large","messages":[{"role":"user","content":"hi"}]})") == 429);
  CHECK(PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                With(kA, next("error-event"), {{"x-mock-fault", "error-event"}}))
            .status == 502);
  CHECK(post("over-cap", {{"x-signalbox-max-cost-usd", "0.000001"}}) == 429);
  // Every request has ended once its access-log line is written (after its reservation
  // was released).
  for (const auto& id : ids) {
    INFO(id);
    CHECK(g.gw.WaitForAccess([&](const json& j) { return j["request_id"] == id; }).has_value());
  }
  // Live remaining (limit - spent - reserved) equals settled remaining (limit - spent).
  json live = AdminSpend(g.gw);
  int64_t left = Nano(KeyLine(live, "team-a")["day_remaining_usd"]);
  REQUIRE(left > 0);
  REQUIRE(left < 50'000'000);  // something was spent
  CHECK(Nano(Route(g.gw, ChatBody("hi"), kA)["budget"]["day_remaining_usd"]) == left);
  // In-memory spend = the ledger's rows.
  int64_t rows_sum = 0;
  for (const Row& r : Rows(g.Ledger())) rows_sum += r.cost_nusd;
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == rows_sum);
  CHECK(left == 50'000'000 - rows_sum);

  // A request estimated at exactly what is left is admitted; one micro-dollar more is not.
  REQUIRE(left % 1000 == 0);
  int64_t est_in = Route(g.gw, ChatBody("hi"), kA)["input_tokens"].get<int64_t>();
  int64_t max_tokens = left / 1000 - est_in;
  REQUIRE(max_tokens > 0);
  std::string exact = ChatBody("hi", false, fmt::format(R"("max_tokens":{})", max_tokens));
  std::string over = ChatBody("hi", false, fmt::format(R"("max_tokens":{})", max_tokens + 1));
  json route = Route(g.gw, exact, kA);
  CHECK(Nano(route["candidates"][0]["estimated_cost_usd"]) == left);
  CHECK(post("one-too-many", {}, over) == 429);
  CHECK(post("exactly-left", {}, exact) == 200);
}

TEST_CASE(
    "a burst of concurrent requests against a small daily budget admits exactly the requests "
    "that fit and refuses the rest with 429 budget_exceeded",
    "[integration][budget][concurrency]") {
  // Streams hold their reservation until the end of the stream; plain requests until
  // the answer is in.
  const bool stream = GENERATE(false, true);
  const std::string window = GENERATE(as<std::string>{}, "daily_usd", "monthly_usd");
  INFO((stream ? "streamed" : "plain") << " requests, " << window);
  RunningMock small = StartOrFail({"--model", "small-model", "--token-interval", "2"});
  RunningMock large = StartOrFail({"--model", "large-model"});
  const std::string body = ChatBody("Write a haiku about budgets.", stream, R"("max_tokens":40)");
  // The estimate does not depend on the key's limits: read it from a first gateway.
  double est = 0;
  int64_t est_in = 0;
  {
    BudgetGateway probe(small, large, {});
    json route = Route(probe.gw, body, kA);
    est = route["candidates"][0]["estimated_cost_usd"];
    est_in = route["input_tokens"];
  }
  REQUIRE(Nano(est) == est_in * kSmallIn + 40 * kSmallOut);
  constexpr int kFit = 5, kBurst = 20;
  // Room for kFit requests and half of one more (in the daily or in the monthly budget). The
  // upstream reports exactly the estimated tokens, so what a request costs is what it reserved.
  double limit = (kFit + 0.5) * est;
  BudgetGateway g(small, large, {.team_a = fmt::format("      {}: {}\n", window, limit)});
  small.ResetStats();
  const std::string usage = fmt::format("{},{}", est_in, 40);  // exactly the estimate
  struct Outcome {
    int status = 0;
    std::string type, code, should_retry;
  };
  std::vector<Outcome> out(kBurst);
  std::latch start(kBurst);
  std::vector<std::thread> threads;
  for (int t = 0; t < kBurst; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", g.gw.port);
      c.set_read_timeout(std::chrono::seconds(30));
      start.arrive_and_wait();
      auto h = With(kA, fmt::format("burst-{:02}", t), {{"x-mock-usage", usage}});
      std::string answer;
      if (stream) {
        SseResponse r = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", body, h, nullptr,
                                std::chrono::seconds(30));
        out[t].status =
            r.status == 200 && !r.Done() ? -1 : r.status;  // -1: a stream that did not end
        auto it = r.headers.find("x-should-retry");
        if (it != r.headers.end()) out[t].should_retry = it->second;
        answer = r.raw;
      } else {
        auto r = c.Post("/v1/chat/completions", h, body, "application/json");
        if (!r) return;
        out[t].status = r->status;
        out[t].should_retry = r->get_header_value("x-should-retry");
        answer = r->body;
      }
      auto j = json::parse(answer, nullptr, false);
      if (j.is_object() && j.contains("error")) {
        out[t].type = j["error"].value("type", "");
        out[t].code = j["error"].value("code", "");
      }
    });
  }
  for (auto& th : threads) th.join();
  int ok = 0, refused = 0;
  for (const auto& o : out) {
    if (o.status == 200) {
      ++ok;
    } else {
      INFO("status " << o.status << " type " << o.type << " code " << o.code);
      CHECK(o.status == 429);
      CHECK(o.type == "insufficient_quota");
      CHECK(o.code == "budget_exceeded");
      CHECK(o.should_retry == "false");
      ++refused;
    }
  }
  CHECK(ok <= kFit + 1);  // the contract: never more than one request over
  CHECK(ok == kFit);      // with exact estimates: exactly the requests that fit
  CHECK(ok + refused == kBurst);
  CHECK(small.Stats()["requests"] == ok);
  CHECK(large.Stats()["requests"] == 0);
  auto rows = Rows(g.Ledger());
  CHECK(static_cast<int>(rows.size()) == ok);
  int64_t spent = 0;
  for (const Row& r : rows) spent += r.cost_nusd;
  CHECK(spent <= Nano(limit));
  json live = AdminSpend(g.gw);
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == spent);
  // Nothing reserved is left behind by the refusals.
  const char* remaining = window == "daily_usd" ? "day_remaining_usd" : "month_remaining_usd";
  CHECK(Nano(Route(g.gw, body, kA)["budget"][remaining]) == Nano(limit) - spent);
}

}  // namespace signalbox::testing::budget_it
