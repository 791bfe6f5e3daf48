// Per-key limits in one gateway process (SPEC "Limits answer like OpenAI", issue 12):
// exact rpm/tpm/max_parallel counts, the x-ratelimit-* headers on every response of a
// limited key, 429 rate_limit_error with retry-after (and without x-should-retry: false),
// the model allow-list's 403, both in the API's own error shape, the limit state in
// POST /v1/route and `signalbox explain`, the metric, and a reload that keeps counters.
#include <thread>

#include "integration/budget_test_util.h"
#include "metrics/exposition_parse.h"
#include "testing/poll.h"

namespace signalbox::testing::budget_it {
namespace {

bool Eventually(const std::function<bool()>& pred) {
  return signalbox::testing::Eventually(pred, std::chrono::seconds(10));
}

double Metric(const RunningGateway& gw, const std::string& series) {
  auto r = gw.Client()->Get("/metrics");
  REQUIRE(r);
  auto m = metrics::testing::ParseExposition(r->body);
  auto it = m.find(series);
  return it == m.end() ? -1 : it->second;
}

json Limits(const RunningGateway& gw, const httplib::Headers& key,
            const std::string& body = ChatBody("hi")) {
  return Route(gw, body, key)["limits"];
}

std::string MessagesBody(const std::string& model = "auto") {
  return R"({"model":")" + model +
         R"(","max_tokens":64,"messages":[{"role":"user","content":"hello"}]})";
}

const std::string kMessagesBackends = "    api: [chat, messages]\n";

}  // namespace

TEST_CASE(
    "rpm: exactly rpm requests pass, then 429 rate_limit_error with retry-after and the "
    "x-ratelimit headers, never x-should-retry false, in the API's own shape",
    "[integration][limits]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_a = "      rpm: 3\n      tpm: 100000\n",
                   .backend_extra = kMessagesBackends});
  auto cli = g.gw.Client();
  int64_t last_tokens = 100000;
  for (int i = 0; i < 3; ++i) {
    auto r = cli->Post("/v1/chat/completions", With(kA, "rpm-" + std::to_string(i)),
                       ChatBody("hello"), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("x-ratelimit-limit-requests") == "3");
    CHECK(r->get_header_value("x-ratelimit-remaining-requests") == std::to_string(2 - i));
    CHECK(r->get_header_value("x-ratelimit-limit-tokens") == "100000");
    int64_t tokens = std::stoll(r->get_header_value("x-ratelimit-remaining-tokens"));
    CHECK(tokens < last_tokens);
    last_tokens = tokens;
  }
  auto refused = cli->Post("/v1/chat/completions", With(kA, "rpm-refused"), ChatBody("hello"),
                           "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 429);
  json e = json::parse(refused->body)["error"];
  CHECK(e["type"] == "rate_limit_error");
  CHECK(e["code"] == "rate_limit_exceeded");
  CHECK(e["message"].get<std::string>().find("3 requests per minute") != std::string::npos);
  int retry_after = std::stoi(refused->get_header_value("retry-after"));
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 60);
  CHECK_FALSE(refused->has_header("x-should-retry"));
  CHECK(refused->get_header_value("x-ratelimit-remaining-requests") == "0");
  CHECK(refused->get_header_value("x-ratelimit-limit-tokens") == "100000");

  auto msg =
      cli->Post("/v1/messages", With(kA, "rpm-messages"), MessagesBody(), "application/json");
  REQUIRE(msg);
  CHECK(msg->status == 429);
  json am = json::parse(msg->body);
  CHECK(am["type"] == "error");
  CHECK(am["error"]["type"] == "rate_limit_error");
  CHECK(msg->has_header("retry-after"));
  CHECK(msg->get_header_value("x-ratelimit-limit-requests") == "3");

  // An unlimited key is not affected and gets no limit headers.
  auto b =
      cli->Post("/v1/chat/completions", With(kB, "rpm-b"), ChatBody("hello"), "application/json");
  REQUIRE(b);
  CHECK(b->status == 200);
  CHECK_FALSE(b->has_header("x-ratelimit-limit-requests"));

  // Every response of the limited key carries the headers, a 400 too.
  auto bad = cli->Post("/v1/chat/completions", With(kA, "rpm-bad"), "{", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(bad->get_header_value("x-ratelimit-remaining-requests") == "0");

  // The refusals called no upstream and billed nothing.
  CHECK(g.small.Stats()["requests"] == 4);  // three of team-a, one of team-b
  CHECK(Rows(g.Ledger()).size() == 4);      // three of team-a, one of team-b
  CHECK(Metric(g.gw, R"(signalbox_rate_limited_total{key="team-a",limit="rpm"})") == 2);
  CHECK(Metric(g.gw, R"(signalbox_rate_limited_total{key="team-a",limit="tpm"})") == 0);
  json lim = Limits(g.gw, kA);
  CHECK(lim["key"] == "team-a");
  CHECK(lim["rpm"] == 3);
  CHECK(lim["remaining_requests"] == 0);
  CHECK(lim["tpm"] == 100000);
  CHECK(lim["max_parallel"].is_null());
  CHECK(lim["model_allowed"] == true);
}

TEST_CASE(
    "tpm: the estimate is taken at admission and replaced by the upstream's usage, a request "
    "larger than tpm is refused for good",
    "[integration][limits]") {
  BudgetGateway g(
      {.small_args = kFixedUsage, .large_args = kFixedUsage, .team_a = "      tpm: 900\n"});
  const std::string body = ChatBody("hello", false, R"("max_tokens":600)");
  json route = Route(g.gw, body, kA);
  const int64_t estimate =
      route["input_tokens"].get<int64_t>() + route["output_tokens"].get<int64_t>();
  REQUIRE(estimate > 600);
  REQUIRE(estimate < 900);
  auto cli = g.gw.Client();
  auto first = cli->Post("/v1/chat/completions", With(kA, "tpm-1"), body, "application/json");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  CHECK(first->get_header_value("x-ratelimit-remaining-tokens") == std::to_string(900 - estimate));
  CHECK_FALSE(first->has_header("x-ratelimit-limit-requests"));  // no rpm set
  // Settled on the mock's usage: 100 + 50 tokens.
  REQUIRE(Eventually([&] { return Limits(g.gw, kA)["remaining_tokens"] == 750; }));
  auto second = cli->Post("/v1/chat/completions", With(kA, "tpm-2"), body, "application/json");
  REQUIRE(second);
  CHECK(second->status == 200);
  CHECK(second->get_header_value("x-ratelimit-remaining-tokens") == std::to_string(750 - estimate));
  // Both settled: 300 used, 600 left, less than the next estimate.
  REQUIRE(Eventually([&] { return Limits(g.gw, kA)["remaining_tokens"] == 600; }));
  auto third = cli->Post("/v1/chat/completions", With(kA, "tpm-3"), body, "application/json");
  REQUIRE(third);
  CHECK(third->status == 429);
  CHECK(json::parse(third->body)["error"]["code"] == "rate_limit_exceeded");
  CHECK(third->has_header("retry-after"));
  CHECK_FALSE(third->has_header("x-should-retry"));

  auto huge = cli->Post("/v1/chat/completions", With(kA, "tpm-huge"),
                        ChatBody("hello", false, R"("max_tokens":5000)"), "application/json");
  REQUIRE(huge);
  CHECK(huge->status == 429);
  CHECK(json::parse(huge->body)["error"]["code"] == "request_too_large");
  CHECK(huge->get_header_value("x-should-retry") == "false");
  CHECK(Metric(g.gw, R"(signalbox_rate_limited_total{key="team-a",limit="tpm"})") == 2);
}

TEST_CASE("max_parallel: a held slot refuses the next request, and every exit frees it",
          "[integration][limits]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_a = "      rpm: 100\n      max_parallel: 1\n",
                   .backend_extra = "    timeouts: {first_byte: 1s}\n",
                   .rules = "    - name: default\n      route: [small]\n"});
  int hung_status = 0;
  std::string hung_limit;
  std::thread hung([&] {
    auto r = g.gw.Client()->Post("/v1/chat/completions",
                                 With(kA, "par-hang", {{"x-mock-fault", "hang"}}),
                                 ChatBody("hello"), "application/json");
    if (!r) return;
    hung_status = r->status;
    hung_limit = r->get_header_value("x-ratelimit-limit-requests");
  });
  REQUIRE(g.small.WaitForStats([](const json& s) { return s["in_flight"] == 1; }));
  CHECK(Limits(g.gw, kA)["in_flight"] == 1);
  auto refused = g.gw.Client()->Post("/v1/chat/completions", With(kA, "par-refused"),
                                     ChatBody("hello"), "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(json::parse(refused->body)["error"]["type"] == "rate_limit_error");
  CHECK(refused->get_header_value("retry-after") == "1");
  CHECK_FALSE(refused->has_header("x-should-retry"));
  // A streaming request is refused the same way while the slot is held.
  auto s =
      PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), With(kA, "par-stream"));
  CHECK(s.status == 429);
  hung.join();
  CHECK(hung_status == 504);  // the first_byte timeout ended it
  CHECK(hung_limit == "100");
  REQUIRE(Eventually([&] { return Limits(g.gw, kA)["in_flight"] == 0; }));
  auto ok =
      PostSse(g.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), With(kA, "par-ok"));
  CHECK(ok.status == 200);
  CHECK(ok.Done());
  REQUIRE(Eventually([&] { return Limits(g.gw, kA)["in_flight"] == 0; }));
  CHECK(Metric(g.gw, R"(signalbox_rate_limited_total{key="team-a",limit="max_parallel"})") == 2);
}

TEST_CASE(
    "models allow-list: another model is 403 permission_error model_not_allowed in the API's "
    "own shape, before any limit is taken",
    "[integration][limits]") {
  BudgetGateway g({.small_args = kFixedUsage,
                   .large_args = kFixedUsage,
                   .team_a = "      rpm: 1\n      models: [auto]\n",
                   .backend_extra = kMessagesBackends});
  auto cli = g.gw.Client();
  auto r = cli->Post("/v1/chat/completions", With(kA, "allow-large"),
                     R"({"model":"large","messages":[{"role":"user","content":"hi"}]})",
                     "application/json");
  REQUIRE(r);
  CHECK(r->status == 403);
  json e = json::parse(r->body)["error"];
  CHECK(e["type"] == "permission_error");
  CHECK(e["code"] == "model_not_allowed");
  CHECK(e["param"] == "model");
  CHECK(r->get_header_value("x-ratelimit-remaining-requests") == "1");
  auto m = cli->Post("/v1/messages", With(kA, "allow-messages"), MessagesBody("small-model"),
                     "application/json");
  REQUIRE(m);
  CHECK(m->status == 403);
  json am = json::parse(m->body);
  CHECK(am["type"] == "error");
  CHECK(am["error"]["type"] == "permission_error");
  CHECK(Route(g.gw, R"({"model":"large","messages":[{"role":"user","content":"hi"}]})",
              kA)["limits"]["model_allowed"] == false);
  // The allowed model still has its one request; key team-b has no list.
  auto ok =
      cli->Post("/v1/chat/completions", With(kA, "allow-auto"), ChatBody("hi"), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  auto b = cli->Post("/v1/chat/completions", With(kB, "allow-b"),
                     R"({"model":"large","messages":[{"role":"user","content":"hi"}]})",
                     "application/json");
  REQUIRE(b);
  CHECK(b->status == 200);
  CHECK(g.small.Stats()["requests"].get<int64_t>() + g.large.Stats()["requests"].get<int64_t>() ==
        2);
}

TEST_CASE("a reload that changes a key's limits keeps what the key has used",
          "[integration][limits][reload]") {
  RunningMock small = StartOrFail(Concat({"--model", "small-model"}, kFixedUsage));
  RunningMock large = StartOrFail(Concat({"--model", "large-model"}, kFixedUsage));
  BudgetOptions o{.team_a = "      rpm: 5\n"};
  BudgetGateway g(small, large, o);
  auto cli = g.gw.Client();
  for (int i = 0; i < 3; ++i) {
    auto r = cli->Post("/v1/chat/completions", With(kA, "reload-" + std::to_string(i)),
                       ChatBody("hi"), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  o.team_a = "      rpm: 4\n";
  g.gw.WriteConfig(BudgetConfig(small, large, o));
  REQUIRE(Eventually([&] { return Limits(g.gw, kA)["rpm"] == 4; }));
  CHECK(Limits(g.gw, kA)["remaining_requests"] == 1);
  auto fourth =
      cli->Post("/v1/chat/completions", With(kA, "reload-3"), ChatBody("hi"), "application/json");
  REQUIRE(fourth);
  CHECK(fourth->status == 200);
  CHECK(fourth->get_header_value("x-ratelimit-remaining-requests") == "0");
  auto fifth =
      cli->Post("/v1/chat/completions", With(kA, "reload-4"), ChatBody("hi"), "application/json");
  REQUIRE(fifth);
  CHECK(fifth->status == 429);
}

TEST_CASE("signalbox explain shows the key's configured limits and allow-list",
          "[integration][limits][cli]") {
  BudgetGateway g({.team_a = "      rpm: 7\n      tpm: 9000\n      models: [auto]\n"});
  ProcessOptions po;
  po.argv = {SIGNALBOX_BIN, "explain", "--config", g.gw.config_path, "--key", "team-a", "hello"};
  po.env = KeyEnv();
  auto p = Process::Start(po);
  REQUIRE(p.ok());
  int rc = (*p)->Wait();
  INFO((*p)->Output());
  REQUIRE(rc == 0);
  std::string text;
  for (const auto& l : (*p)->Lines(OutputStream::kStdout)) text += l + "\n";
  json j = json::parse(text);
  CHECK(j["limits"]["key"] == "team-a");
  CHECK(j["limits"]["rpm"] == 7);
  CHECK(j["limits"]["tpm"] == 9000);
  CHECK(j["limits"]["remaining_requests"].is_null());  // live counters: POST /v1/route
  CHECK(j["limits"]["models"] == json::array({"auto"}));
  CHECK(j["limits"]["model_allowed"] == true);
}

}  // namespace signalbox::testing::budget_it
