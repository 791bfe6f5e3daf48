// Spend accounting end to end through the real gateway (SPEC "Cost budget", catalogue
// §1.7 and cases 30, 35-37, 41-44 of shared/notes/reliability-tests.md): every request
// the gateway forwards leaves exactly the ledger row its upstream usage (or, without
// usage, the documented estimate) calls for; the cost header, GET /admin/spend, the
// metrics and `signalbox spend --json` agree with the rows to the nano-dollar; budget
// refusals, downgrades, 401s and fallbacks bill nothing they should not. Restarts,
// kill -9, bursts and reservation leaks: budget_durability_test.cc.
//
// Prices are whole dollars per million tokens, so every cost is a whole number of
// micro-dollars and the expected amounts below are exact integers of nano-dollars.
#include <fstream>
#include <regex>
#include <sstream>

#include "integration/budget_test_util.h"

namespace signalbox::testing::budget_it {

TEST_CASE(
    "plain request: one ledger row with the upstream's tokens at the configured prices, the "
    "cost header, /admin/spend and `signalbox spend` agree with it",
    "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_b = "      daily_usd: 1\n      monthly_usd: 10\n"});
  auto cli = g.gw.Client();
  auto a = cli->Post("/v1/chat/completions", With(kA, "plain-small"), ChatBody("hello there"),
                     "application/json");
  REQUIRE(a);
  REQUIRE(a->status == 200);
  CHECK(a->get_header_value("x-signalbox-backend") == "small");
  auto b = cli->Post("/v1/chat/completions", With(kB, "plain-large"),
                     R"({"model":"large","messages":[{"role":"user","content":"hello"}]})",
                     "application/json");
  REQUIRE(b);
  REQUIRE(b->status == 200);
  CHECK(b->get_header_value("x-signalbox-backend") == "large");

  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 2);
  const Row& rl = rows[0];  // ordered by request id: plain-large, plain-small
  const Row& rs = rows[1];
  CHECK(rs.request_id == "plain-small");
  CHECK(rs.attempt == 1);
  CHECK(rs.key_id == "team-a");
  CHECK(rs.backend == "small");
  CHECK(rs.input_tokens == 100);
  CHECK(rs.output_tokens == 50);
  CHECK_FALSE(rs.estimated);
  CHECK(rs.outcome == "ok");
  CHECK(rs.cost_nusd == kSmallFixed);
  CHECK(Nano(rs.cost_usd) == kSmallFixed);
  CHECK(rl.request_id == "plain-large");
  CHECK(rl.key_id == "team-b");
  CHECK(rl.backend == "large");
  CHECK(rl.cost_nusd == kLargeFixed);
  CHECK(Nano(rl.cost_usd) == kLargeFixed);

  CHECK(Nano(std::stod(a->get_header_value("x-signalbox-cost-usd"))) == kSmallFixed);
  CHECK(Nano(std::stod(b->get_header_value("x-signalbox-cost-usd"))) == kLargeFixed);
  auto line = g.gw.WaitForAccess([](const json& j) { return j["request_id"] == "plain-small"; });
  REQUIRE(line);
  CHECK(Nano((*line)["cost_usd"].get<double>()) == kSmallFixed);

  json live = AdminSpend(g.gw);
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == kSmallFixed);
  CHECK(Nano(KeyLine(live, "team-a")["month_usd"]) == kSmallFixed);
  CHECK(KeyLine(live, "team-a")["daily_limit_usd"].is_null());
  CHECK(KeyLine(live, "team-a")["day_remaining_usd"].is_null());
  CHECK(Nano(KeyLine(live, "team-b")["day_usd"]) == kLargeFixed);
  CHECK(Nano(KeyLine(live, "team-b")["day_remaining_usd"]) == 1'000'000'000 - kLargeFixed);
  CHECK(Nano(KeyLine(live, "team-b")["month_remaining_usd"]) == 10'000'000'000 - kLargeFixed);
  CHECK(Nano(BackendLine(live, "small")["day_usd"]) == kSmallFixed);
  CHECK(Nano(BackendLine(live, "large")["month_usd"]) == kLargeFixed);
  CHECK(Nano(live["total"]["day_usd"]) == kSmallFixed + kLargeFixed);
  CHECK(Nano(live["total"]["month_usd"]) == kSmallFixed + kLargeFixed);
  json offline = CliSpend(g.gw);
  CHECK(offline == live);
}

TEST_CASE(
    "streamed request: billed from the upstream's usage chunk the gateway asked for, "
    "whether or not the client asked for it",
    "[integration][budget][stream]") {
  BudgetGateway g({.small_args = kFixedUsage, .large_args = kFixedUsage});
  auto r = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                   With(kA, "stream-plain"));
  REQUIRE(r.status == 200);
  CHECK(r.Done());
  for (size_t i = 0; i + 1 < r.events.size(); ++i) {
    CHECK(json::parse(r.events[i])["choices"].size() == 1);  // the usage chunk stays hidden
  }
  auto up = json::parse(g.small.LastRequest()["body"].get<std::string>());
  CHECK(up["stream_options"]["include_usage"] == true);
  auto asked = PostSse(g.gw.BaseUrl(), "/v1/chat/completions",
                       ChatBody("hi", true, R"("stream_options":{"include_usage":true})"),
                       With(kA, "stream-usage"));
  REQUIRE(asked.status == 200);
  CHECK(asked.Done());
  REQUIRE(asked.events.size() >= 2);
  CHECK(json::parse(asked.events[asked.events.size() - 2])["usage"]["completion_tokens"] == 50);

  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 2);
  for (const Row& row : rows) {
    INFO(row.request_id);
    CHECK(row.backend == "small");
    CHECK(row.input_tokens == 100);
    CHECK(row.output_tokens == 50);
    CHECK_FALSE(row.estimated);
    CHECK(row.outcome == "ok");
    CHECK(row.cost_nusd == kSmallFixed);
  }
  json live = AdminSpend(g.gw);
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == 2 * kSmallFixed);
  CHECK(CliSpend(g.gw) == live);
}

TEST_CASE(
    "an upstream that sends no usage: the row is marked estimated and counts the output "
    "actually produced",
    "[integration][budget][stream]") {
  BudgetGateway g({.small_args = {"--no-usage"}});
  std::string body =
      ChatBody("Summarise the plot of Hamlet in one line.", false, R"("max_tokens":64)");
  json route = Route(g.gw, body, kA);
  int64_t est_in = route["input_tokens"].get<int64_t>();
  REQUIRE(est_in > 0);
  auto p = g.gw.Client()->Post("/v1/chat/completions", With(kA, "nousage-plain"), body,
                               "application/json");
  REQUIRE(p);
  REQUIRE(p->status == 200);
  std::string stream_body =
      ChatBody("Summarise the plot of Hamlet in one line.", true, R"("max_tokens":64)");
  auto s = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", stream_body, With(kA, "nousage-stream"));
  REQUIRE(s.status == 200);
  CHECK(s.Done());

  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 2);
  for (const Row& row : rows) {
    INFO(row.request_id);
    CHECK(row.estimated);
    CHECK(row.input_tokens == est_in);  // the router's prompt estimate
    CHECK(row.output_tokens > 0);       // the 16 tokens the mock produced were counted
    CHECK(row.cost_nusd == row.input_tokens * kSmallIn + row.output_tokens * kSmallOut);
    CHECK(row.outcome == "ok");
  }
  // The same 16-token answer, relayed whole or chunk by chunk, is estimated the same.
  CHECK(rows[0].output_tokens == rows[1].output_tokens);
  CHECK(Nano(std::stod(p->get_header_value("x-signalbox-cost-usd"))) ==
        RowOf(rows, "nousage-plain").cost_nusd);
}

TEST_CASE("an explicit zero usage from the upstream is billed as zero, not replaced by an estimate",
          "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage});
  auto p =
      g.gw.Client()->Post("/v1/chat/completions", With(kA, "zero-plain", {{"x-mock-usage", "0,0"}}),
                          ChatBody("hello"), "application/json");
  REQUIRE(p);
  REQUIRE(p->status == 200);
  CHECK(json::parse(p->body)["usage"]["completion_tokens"] == 0);
  auto s = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hello", true),
                   With(kA, "zero-stream", {{"x-mock-usage", "0,0"}}));
  REQUIRE(s.status == 200);
  CHECK(s.Done());
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 2);
  for (const Row& row : rows) {
    INFO(row.request_id);
    CHECK(row.input_tokens == 0);
    CHECK(row.output_tokens == 0);
    CHECK(row.cost_nusd == 0);
    CHECK_FALSE(row.estimated);
  }
  CHECK(Nano(std::stod(p->get_header_value("x-signalbox-cost-usd"))) == 0);
  CHECK(Nano(KeyLine(AdminSpend(g.gw), "team-a")["day_usd"]) == 0);
}

TEST_CASE("a stream cut by the upstream is billed for what it produced",
          "[integration][budget][stream]") {
  BudgetGateway g({.small_args = kFixedUsage, .large_args = kFixedUsage});
  std::string body = ChatBody("hi", true);
  int64_t est_in = Route(g.gw, body, kA)["input_tokens"].get<int64_t>();
  auto r = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", body,
                   With(kA, "cut-5", {{"x-mock-fault", "cut:5"}}));
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.Done());
  REQUIRE_FALSE(r.events.empty());
  CHECK(json::parse(r.events.back()).contains("error"));
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 1);  // no fallback after the first byte, so one attempt
  const Row& row = rows[0];
  CHECK(row.backend == "small");
  CHECK(row.estimated);  // the usage chunk never came
  CHECK(row.input_tokens == est_in);
  // "tok1 tok2 tok3 tok4 tok5" reached the client: some output, less than the full answer.
  CHECK(row.output_tokens >= 1);
  CHECK(row.output_tokens < 16);
  CHECK(row.cost_nusd == row.input_tokens * kSmallIn + row.output_tokens * kSmallOut);
  CHECK(row.outcome != "ok");
  CHECK(g.large.Stats()["requests"] == 0);
}

TEST_CASE("a client that disconnects mid-stream still leaves a row for the partial stream",
          "[integration][budget][stream]") {
  BudgetGateway g({.small_args = kFixedUsage});
  std::string body = ChatBody("hi", true);
  int64_t est_in = Route(g.gw, body, kA)["input_tokens"].get<int64_t>();
  auto r =
      PostSse(g.gw.BaseUrl(), "/v1/chat/completions", body,
              With(kA, "gone-mid", {{"x-mock-tokens", "400"}, {"x-mock-token-interval-ms", "20"}}),
              [](const SseResponse& s) { return s.events.size() >= 5; });
  REQUIRE(r.status == 200);
  REQUIRE(r.events.size() >= 5);
  CHECK(g.small.WaitForCounter("client_disconnects", 1));  // the upstream was cancelled
  auto rows = WaitForRows(g.Ledger(), "gone-mid", 1);
  REQUIRE(rows.size() == 1);
  const Row& row = rows[0];
  CHECK(row.outcome == "client_gone");
  CHECK(row.estimated);
  CHECK(row.input_tokens == est_in);
  CHECK(row.output_tokens >= 1);
  CHECK(row.output_tokens < 400);
  CHECK(row.cost_nusd == row.input_tokens * kSmallIn + row.output_tokens * kSmallOut);
  auto line = g.gw.WaitForAccess([](const json& j) { return j["request_id"] == "gone-mid"; });
  REQUIRE(line);
  CHECK(Nano((*line)["cost_usd"].get<double>()) == row.cost_nusd);
  CHECK(Nano(KeyLine(AdminSpend(g.gw), "team-a")["day_usd"]) == row.cost_nusd);
}

// proxy_call.cc: a client that leaves before the first upstream byte is billed the
// prompt (the upstream had it) and no output, as an estimate (outcome client_gone).
TEST_CASE("a client that disconnects during time to first token is billed the prompt estimate only",
          "[integration][budget][stream]") {
  BudgetGateway g({.small_args = kFixedUsage, .large_args = kFixedUsage});
  SECTION("stream") {
    std::string body = ChatBody("hi", true);
    int64_t est_in = Route(g.gw, body, kA)["input_tokens"].get<int64_t>();
    auto r = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", body,
                     With(kA, "gone-ttft-s", {{"x-mock-fault", "hang"}}), nullptr,
                     std::chrono::milliseconds(300));
    CHECK(r.events.empty());
    CHECK(g.small.WaitForCounter("client_disconnects", 1));
    auto rows = WaitForRows(g.Ledger(), "gone-ttft-s", 1);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].backend == "small");
    CHECK(rows[0].outcome == "client_gone");
    CHECK(rows[0].estimated);
    CHECK(rows[0].input_tokens == est_in);
    CHECK(rows[0].output_tokens == 0);
    CHECK(rows[0].cost_nusd == est_in * kSmallIn);
  }
  SECTION("plain") {
    std::string body = ChatBody("hi");
    int64_t est_in = Route(g.gw, body, kA)["input_tokens"].get<int64_t>();
    httplib::Client c("127.0.0.1", g.gw.port);
    c.set_read_timeout(std::chrono::milliseconds(300));
    auto res = c.Post("/v1/chat/completions", With(kA, "gone-ttft-p", {{"x-mock-fault", "hang"}}),
                      body, "application/json");
    CHECK_FALSE(res);
    CHECK(g.small.WaitForCounter("client_disconnects", 1));
    auto rows = WaitForRows(g.Ledger(), "gone-ttft-p", 1);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].outcome == "client_gone");
    CHECK(rows[0].estimated);
    CHECK(rows[0].input_tokens == est_in);
    CHECK(rows[0].output_tokens == 0);
  }
  CHECK(g.large.Stats()["requests"] == 0);  // nobody is listening: no fallback
}

TEST_CASE("fallback: only the attempt that answered is billed", "[integration][budget][fallback]") {
  BudgetGateway g(
      {.small_args = Concat({"--fault", "503"}, kFixedUsage), .large_args = kFixedUsage});
  auto p = g.gw.Client()->Post("/v1/chat/completions", With(kA, "fb-plain"), ChatBody("hi"),
                               "application/json");
  REQUIRE(p);
  REQUIRE(p->status == 200);
  CHECK(p->get_header_value("x-signalbox-backend") == "large");
  CHECK(Nano(std::stod(p->get_header_value("x-signalbox-cost-usd"))) == kLargeFixed);
  auto s =
      PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), With(kA, "fb-stream"));
  REQUIRE(s.status == 200);
  CHECK(s.Done());
  CHECK(g.small.Stats()["requests"] == 2);
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 2);
  for (const Row& row : rows) {
    INFO(row.request_id);
    CHECK(row.backend == "large");
    CHECK(row.attempt == 2);
    CHECK(row.cost_nusd == kLargeFixed);
    CHECK(row.outcome == "ok");
  }
  json live = AdminSpend(g.gw);
  CHECK(Nano(BackendLine(live, "large")["day_usd"]) == 2 * kLargeFixed);
  CHECK(BackendLine(live, "small").is_null());
}

TEST_CASE(
    "fallback: a first backend that answers 200 with no usable answer (error object, malformed or "
    "empty body or stream) is not billed, the fallback that answers is",
    "[integration][budget][fallback]") {
  const std::string fault = GENERATE(as<std::string>{}, "error-event", "malformed", "empty-stream");
  const bool stream = GENERATE(false, true);
  INFO("small answers with fault " << fault << (stream ? ", streamed" : ", plain"));
  BudgetGateway g(
      {.small_args = Concat({"--fault", fault}, kFixedUsage), .large_args = kFixedUsage});
  int status = 0;
  std::string backend;
  if (stream) {
    auto s = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                     With(kA, "fb-bad-200"));
    status = s.status;
    CHECK(s.Done());
    auto it = s.headers.find("x-signalbox-backend");
    if (it != s.headers.end()) backend = it->second;
  } else {
    auto p = g.gw.Client()->Post("/v1/chat/completions", With(kA, "fb-bad-200"), ChatBody("hi"),
                                 "application/json");
    REQUIRE(p);
    status = p->status;
    backend = p->get_header_value("x-signalbox-backend");
    INFO(p->body);
    CHECK(json::parse(p->body, nullptr, false).contains("choices"));
  }
  CHECK(status == 200);
  CHECK(backend == "large");
  CHECK(g.large.Stats()["requests"] == 1);
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].backend == "large");
  CHECK(rows[0].attempt == 2);
  CHECK(rows[0].cost_nusd == kLargeFixed);
}

TEST_CASE(
    "fallback: a paid fallback the key's budget cannot afford is never called and the client "
    "gets 429 budget_exceeded",
    "[integration][budget][fallback]") {
  // Catalogue case 30: the cheap primary is down and the key cannot afford the paid
  // fallback, either (a) with $0 left and a free primary or (b) with room for the
  // primary's estimate only.
  const bool free_primary = GENERATE(true, false);
  BudgetOptions o{.small_args = Concat({"--fault", "503"}, kFixedUsage), .large_args = kFixedUsage};
  if (free_primary) {
    o.small_price = "{input_per_mtok: 0, output_per_mtok: 0}";
    o.team_b = "      daily_usd: 0\n";
  } else {
    o.team_b = "      daily_usd: 0.0002\n";
  }
  INFO((free_primary ? "$0 left, free primary" : "$0.0002 left, primary fits"));
  BudgetGateway g(o);
  std::string body = ChatBody("hi", false, R"("max_tokens":10)");
  json route = Route(g.gw, body, kB);
  REQUIRE(route["candidates"].size() == 2);
  REQUIRE(route["candidates"][0]["backend"] == "small");
  REQUIRE(route["candidates"][0]["skipped"] == false);
  REQUIRE(route["candidates"][1]["estimated_cost_usd"].get<double>() > 0.0002);
  auto r =
      g.gw.Client()->Post("/v1/chat/completions", With(kB, "fb-broke"), body, "application/json");
  REQUIRE(r);
  CHECK(g.small.Stats()["requests"] == 1);
  CHECK(g.large.Stats()["requests"] == 0);  // LiteLLM #41379: no spend through a paid fallback
  INFO(r->status << " " << r->body);
  CHECK(r->status == 429);
  auto err = json::parse(r->body, nullptr, false);
  CHECK(err["error"]["type"] == "insufficient_quota");
  CHECK(err["error"]["code"] == "budget_exceeded");
  CHECK(r->get_header_value("x-should-retry") == "false");
  CHECK(Rows(g.Ledger()).empty());
}

TEST_CASE(
    "on_exceed: downgrade picks the cheaper candidate that fits the request cap, reject refuses",
    "[integration][budget]") {
  const std::string large_first = "    - name: default\n      route: [large, small]\n";
  std::string body = ChatBody("hello", false, R"("max_tokens":20)");
  SECTION("downgrade") {
    BudgetGateway g({.small_args = kFixedUsage,
                     .large_args = kFixedUsage,
                     .team_b = "      daily_usd: 0.0001\n",
                     .rules = large_first});
    json route = Route(g.gw, body, kA);
    double small_est = route["candidates"][1]["estimated_cost_usd"];
    double large_est = route["candidates"][0]["estimated_cost_usd"];
    REQUIRE(route["candidates"][0]["backend"] == "large");
    REQUIRE(small_est < 0.0001);
    REQUIRE(large_est > 0.0001);
    std::string cap = fmt::format("{}", (small_est + large_est) / 2);
    auto cli = g.gw.Client();
    auto full = cli->Post("/v1/chat/completions", With(kA, "dg-none"), body, "application/json");
    REQUIRE(full);
    CHECK(full->get_header_value("x-signalbox-backend") == "large");
    auto capped =
        cli->Post("/v1/chat/completions", With(kA, "dg-cap", {{"x-signalbox-max-cost-usd", cap}}),
                  body, "application/json");
    REQUIRE(capped);
    CHECK(capped->status == 200);
    CHECK(capped->get_header_value("x-signalbox-backend") == "small");
    auto by_key = cli->Post("/v1/chat/completions", With(kB, "dg-key"), body, "application/json");
    REQUIRE(by_key);
    CHECK(by_key->status == 200);
    CHECK(by_key->get_header_value("x-signalbox-backend") == "small");
    CHECK(g.large.Stats()["requests"] == 1);
    auto rows = Rows(g.Ledger());
    REQUIRE(rows.size() == 3);
    CHECK(RowOf(rows, "dg-none").backend == "large");
    CHECK(RowOf(rows, "dg-cap").backend == "small");
    CHECK(RowOf(rows, "dg-cap").cost_nusd == kSmallFixed);
    CHECK(RowOf(rows, "dg-key").backend == "small");
  }
  SECTION("reject") {
    BudgetGateway g({.small_args = kFixedUsage,
                     .large_args = kFixedUsage,
                     .team_b = "      daily_usd: 0.0001\n",
                     .budgets_extra = "  on_exceed: reject\n",
                     .rules = large_first});
    json route = Route(g.gw, body, kA);
    double small_est = route["candidates"][1]["estimated_cost_usd"];
    double large_est = route["candidates"][0]["estimated_cost_usd"];
    std::string cap = fmt::format("{}", (small_est + large_est) / 2);
    auto cli = g.gw.Client();
    auto capped =
        cli->Post("/v1/chat/completions", With(kA, "rj-cap", {{"x-signalbox-max-cost-usd", cap}}),
                  body, "application/json");
    auto by_key = cli->Post("/v1/chat/completions", With(kB, "rj-key"), body, "application/json");
    for (const auto* res : {&capped, &by_key}) {
      REQUIRE(*res);
      CHECK((*res)->status == 429);
      auto err = json::parse((*res)->body, nullptr, false);
      CHECK(err["error"]["type"] == "insufficient_quota");
      CHECK(err["error"]["code"] == "budget_exceeded");
      CHECK((*res)->get_header_value("x-should-retry") == "false");
    }
    CHECK(g.small.Stats()["requests"] == 0);
    CHECK(g.large.Stats()["requests"] == 0);
    CHECK(Rows(g.Ledger()).empty());
    auto ok = cli->Post("/v1/chat/completions", With(kA, "rj-none"), body, "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(Rows(g.Ledger()).size() == 1);
  }
}

TEST_CASE("requests refused with 401 never create a ledger row", "[integration][budget][auth]") {
  BudgetGateway g({.small_args = kFixedUsage});
  auto cli = g.gw.Client();
  const std::vector<std::pair<std::string, httplib::Headers>> cases = {
      {"missing", {}},
      {"wrong", {{"Authorization", "Bearer sk-not-a-configured-key"}}},
      {"malformed", {{"Authorization", "Basic dGVhbS1hOnNlY3JldA=="}}},
      {"empty bearer", {{"Authorization", "Bearer "}}},
      {"10 KB", {{"Authorization", "Bearer " + std::string(10 * 1024, 'k')}}},
  };
  int n = 0;
  for (const auto& [name, h] : cases) {
    INFO(name);
    auto p = cli->Post("/v1/chat/completions", With(h, "unauth-p-" + std::to_string(n)),
                       ChatBody("hi"), "application/json");
    REQUIRE(p);
    CHECK(p->status == 401);
    CHECK(json::parse(p->body, nullptr, false)["error"]["type"] == "authentication_error");
    auto s = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                     With(h, "unauth-s-" + std::to_string(n)));
    CHECK(s.status == 401);
    ++n;
  }
  CHECK(g.small.Stats()["requests"] == 0);
  CHECK(g.large.Stats()["requests"] == 0);
  CHECK(Rows(g.Ledger()).empty());
  json live = AdminSpend(g.gw);
  CHECK(Nano(live["total"]["day_usd"]) == 0);
  CHECK(live["keys"].size() == 2);  // the configured keys only; no "anonymous", no stray id
  // The same gateway does write rows for an authenticated request.
  auto ok =
      cli->Post("/v1/chat/completions", With(kA, "auth-ok"), ChatBody("hi"), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(Rows(g.Ledger()).size() == 1);
}

TEST_CASE(
    "spend per key and per backend in /admin/spend and `signalbox spend` equals the sum of "
    "the ledger rows",
    "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_a = "      daily_usd: 5\n",
                   .team_b = "      monthly_usd: 50\n"});
  auto cli = g.gw.Client();
  int i = 0;
  auto id = [&i] { return "mix-" + std::to_string(i++); };
  const char* large_body = R"({"model":"large","messages":[{"role":"user","content":"hello"}]})";
  for (const auto& key : {kA, kB}) {
    REQUIRE(cli->Post("/v1/chat/completions", With(key, id()), ChatBody("hi"), "application/json"));
    REQUIRE(cli->Post("/v1/chat/completions", With(key, id()), large_body, "application/json"));
    REQUIRE(cli->Post("/v1/chat/completions", With(key, id(), {{"x-mock-usage", "none"}}),
                      ChatBody("no usage please"), "application/json"));
    REQUIRE(cli->Post("/v1/chat/completions", With(key, id(), {{"x-mock-usage", "7,3"}}),
                      large_body, "application/json"));
    CHECK(PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), With(key, id()))
              .Done());
    CHECK(!PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                   With(key, id(), {{"x-mock-fault", "cut:2"}}))
               .Done());
  }
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 12);
  std::map<std::string, int64_t> by_key, by_backend;
  int64_t total = 0;
  for (const Row& r : rows) {
    by_key[r.key_id] += r.cost_nusd;
    by_backend[r.backend] += r.cost_nusd;
    total += r.cost_nusd;
    CHECK(r.cost_nusd == (r.backend == "small"
                              ? r.input_tokens * kSmallIn + r.output_tokens * kSmallOut
                              : r.input_tokens * kLargeIn + r.output_tokens * kLargeOut));
  }
  CHECK(by_backend["large"] == 2 * (kLargeFixed + 7 * kLargeIn + 3 * kLargeOut));
  json live = AdminSpend(g.gw);
  for (const auto& [k, v] : by_key) {
    INFO(k);
    CHECK(Nano(KeyLine(live, k)["day_usd"]) == v);
    CHECK(Nano(KeyLine(live, k)["month_usd"]) == v);
  }
  for (const auto& [b, v] : by_backend) {
    INFO(b);
    CHECK(Nano(BackendLine(live, b)["day_usd"]) == v);
    CHECK(Nano(BackendLine(live, b)["month_usd"]) == v);
  }
  CHECK(Nano(live["total"]["day_usd"]) == total);
  CHECK(Nano(KeyLine(live, "team-a")["day_remaining_usd"]) == 5'000'000'000 - by_key["team-a"]);
  CHECK(Nano(KeyLine(live, "team-b")["month_remaining_usd"]) == 50'000'000'000 - by_key["team-b"]);
  CHECK(CliSpend(g.gw) == live);
  // signalbox_cost_usd_total{backend,key} counts the same attempts.
  std::map<std::pair<std::string, std::string>, int64_t> expected;
  for (const Row& r : rows) expected[{r.backend, r.key_id}] += r.cost_nusd;
  auto m = g.gw.Client()->Get("/metrics");
  REQUIRE(m);
  std::map<std::pair<std::string, std::string>, int64_t> exported;
  std::regex line(R"re(^signalbox_cost_usd_total\{backend="([^"]*)",key="([^"]*)"\} (\S+)$)re");
  std::istringstream in(m->body);
  for (std::string l; std::getline(in, l);) {
    std::smatch sm;
    if (std::regex_match(l, sm, line) && std::stod(sm[3]) != 0)
      exported[{sm[1], sm[2]}] = Nano(std::stod(sm[3]));
  }
  CHECK(exported == expected);
}

TEST_CASE("embeddings and legacy completions are billed from their usage like chat completions",
          "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage, .large_args = kFixedUsage});
  auto cli = g.gw.Client();
  auto e = cli->Post("/v1/embeddings", With(kA, "emb"),
                     R"({"model":"small-model","input":["a","b"]})", "application/json");
  REQUIRE(e);
  REQUIRE(e->status == 200);
  auto c = cli->Post("/v1/completions", With(kA, "cmpl"),
                     R"({"model":"auto","prompt":"Say hi","max_tokens":4})", "application/json");
  REQUIRE(c);
  REQUIRE(c->status == 200);
  auto cs = PostSse(g.gw.BaseUrl(), "/v1/completions",
                    R"({"model":"auto","prompt":"Say hi","max_tokens":4,"stream":true})",
                    With(kA, "cmpl-stream"));
  REQUIRE(cs.status == 200);
  CHECK(cs.Done());
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 3);
  Row emb = RowOf(rows, "emb");
  CHECK(emb.backend == "small");
  CHECK(emb.input_tokens == 100);  // embeddings report prompt tokens only
  CHECK(emb.output_tokens == 0);
  CHECK_FALSE(emb.estimated);
  CHECK(emb.cost_nusd == 100 * kSmallIn);
  CHECK(Nano(std::stod(e->get_header_value("x-signalbox-cost-usd"))) == 100 * kSmallIn);
  for (const char* id : {"cmpl", "cmpl-stream"}) {
    INFO(id);
    Row r = RowOf(rows, id);
    CHECK(r.input_tokens == 100);
    CHECK(r.output_tokens == 50);
    CHECK_FALSE(r.estimated);
    CHECK(r.cost_nusd == kSmallFixed);
  }
  CHECK(Nano(std::stod(c->get_header_value("x-signalbox-cost-usd"))) == kSmallFixed);
}

TEST_CASE(
    "a backend with stream_usage: false is not asked for usage, its streams are billed by estimate",
    "[integration][budget][stream]") {
  BudgetGateway g({.small_args = kFixedUsage, .backend_extra = "    stream_usage: false\n"});
  std::string body = ChatBody("hi", true);
  int64_t est_in = Route(g.gw, body, kA)["input_tokens"].get<int64_t>();
  auto s = PostSse(g.gw.BaseUrl(), "/v1/chat/completions", body, With(kA, "no-stream-usage"));
  REQUIRE(s.status == 200);
  CHECK(s.Done());
  auto up = json::parse(g.small.LastRequest()["body"].get<std::string>());
  CHECK_FALSE(up.contains("stream_options"));
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].estimated);
  CHECK(rows[0].input_tokens == est_in);
  CHECK(rows[0].output_tokens > 0);
  CHECK(rows[0].cost_nusd == rows[0].input_tokens * kSmallIn + rows[0].output_tokens * kSmallOut);
}

TEST_CASE("without budgets.keys every request is billed to \"anonymous\"",
          "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage, .keys = false});
  auto p = g.gw.Client()->Post("/v1/chat/completions", {{"x-request-id", "anon"}}, ChatBody("hi"),
                               "application/json");
  REQUIRE(p);
  REQUIRE(p->status == 200);
  auto rows = Rows(g.Ledger());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key_id == "anonymous");
  json live = AdminSpend(g.gw);
  REQUIRE(live["keys"].size() == 1);
  CHECK(KeyLine(live, "anonymous")["daily_limit_usd"].is_null());
  CHECK(Nano(KeyLine(live, "anonymous")["day_usd"]) == kSmallFixed);
  CHECK(CliSpend(g.gw) == live);
}

TEST_CASE("a client that reuses an x-request-id is billed for every request",
          "[integration][budget]") {
  BudgetGateway g({.small_args = kFixedUsage});
  auto cli = g.gw.Client();
  for (int i = 0; i < 3; ++i) {
    auto r = cli->Post("/v1/chat/completions", With(kA, "same-id"), ChatBody("hello"),
                       "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("x-request-id") == "same-id");
  }
  auto rows = Rows(g.Ledger(), "same-id");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].call_id != rows[1].call_id);
  CHECK(rows[1].call_id != rows[2].call_id);
  json live = AdminSpend(g.gw);
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == 3 * kSmallFixed);
  CHECK(CliSpend(g.gw) == live);
}

TEST_CASE(
    "a config reload keeps every key's spend, new limits apply to it, a removed key's spend stays "
    "listed",
    "[integration][budget][reload]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_a = "      daily_usd: 1\n",
                   .team_b = "      daily_usd: 1\n"});
  auto cli = g.gw.Client();
  REQUIRE(
      cli->Post("/v1/chat/completions", With(kA, "before-a"), ChatBody("hi"), "application/json"));
  REQUIRE(
      cli->Post("/v1/chat/completions", With(kB, "before-b"), ChatBody("hi"), "application/json"));
  REQUIRE(Rows(g.Ledger()).size() == 2);
  // team-a gets $2 a day, team-b is removed.
  BudgetOptions o{
      .budgets_extra = "  keys:\n    - id: team-a\n      key: ${TEAM_A_KEY}\n      daily_usd: 2\n",
      .ledger_path = g.Ledger(),
      .keys = false};
  { std::ofstream(g.gw.config_path + ".tmp") << BudgetConfig(g.small, g.large, o); }
  std::filesystem::rename(g.gw.config_path + ".tmp", g.gw.config_path);  // never seen half-written
  auto r = cli->Post("/admin/reload", "", "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  json live = AdminSpend(g.gw);
  CHECK(Nano(KeyLine(live, "team-a")["day_usd"]) == kSmallFixed);
  CHECK(Nano(KeyLine(live, "team-a")["daily_limit_usd"]) == 2'000'000'000);
  CHECK(Nano(KeyLine(live, "team-a")["day_remaining_usd"]) == 2'000'000'000 - kSmallFixed);
  CHECK(Nano(KeyLine(live, "team-b")["day_usd"]) == kSmallFixed);
  CHECK(KeyLine(live, "team-b")["daily_limit_usd"].is_null());
  CHECK(Nano(Route(g.gw, ChatBody("hi"), kA)["budget"]["day_remaining_usd"]) ==
        2'000'000'000 - kSmallFixed);
  auto gone =
      cli->Post("/v1/chat/completions", With(kB, "after-b"), ChatBody("hi"), "application/json");
  REQUIRE(gone);
  CHECK(gone->status == 401);
  CHECK(Rows(g.Ledger()).size() == 2);
  CHECK(CliSpend(g.gw) == live);
}

}  // namespace signalbox::testing::budget_it
