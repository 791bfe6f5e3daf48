// Hostile input against the real gateway (docs/security.md, "Bodies, money, logs and
// forwarding"): out-of-range numbers, billed input the estimate must count, oversized
// log fields, forwarding headers, repeated cost caps, a drain that cuts streams, and
// reloads that would change restart-only keys or open /admin/*.
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/resilience_util.h"
#include "integration/sse_client.h"

using namespace signalbox::testing;
using namespace signalbox::testing::resil;
using nlohmann::json;

namespace {

constexpr const char* kKey = "sk-hostile-0123456789";
constexpr const char* kAdmin = "admin-token-0123";

const httplib::Headers kAuth = {{"Authorization", std::string("Bearer ") + kKey}};

// One key with a $0.50 day, a $0.05 request cap, both backends at $2.50/$10 per Mtok.
std::string MoneyConfig(const RunningMock& small, const RunningMock& large,
                        const std::string& backend_extra, const std::string& server_extra = "") {
  return fmt::format(R"(server:
  listen: 127.0.0.1:0
  admin_token: {4}
{3}
backends:
  - name: small
    url: {0}/v1
    model: small-model
    price: {{input_per_mtok: 2.50, output_per_mtok: 10.00}}
    circuit: {{failures: 1, cooldown: 30s}}
{2}
  - name: large
    url: {1}/v1
    model: large-model
    price: {{input_per_mtok: 2.50, output_per_mtok: 10.00}}
    circuit: {{failures: 1, cooldown: 30s}}
{2}
budgets:
  ledger_path: {{STATE}}/ledger.db
  request_max_usd: 0.05
  keys:
    - id: tenant
      key: {5}
      daily_usd: 0.50
router:
  rules:
    - name: default
      route: [small, large]
)",
                     small.BaseUrl(), large.BaseUrl(), backend_extra, server_extra, kAdmin, kKey);
}

httplib::Result Post(const RunningGateway& gw, const std::string& path, const std::string& body,
                     httplib::Headers h = kAuth) {
  httplib::Client c("127.0.0.1", gw.port);
  c.set_read_timeout(std::chrono::seconds(30));
  return c.Post(path.c_str(), h, body, "application/json");
}

// The value of an unlabelled metric, or the sum over every series of a labelled one.
double MetricSum(const RunningGateway& gw, const std::string& name) {
  httplib::Client c("127.0.0.1", gw.port);
  auto r = c.Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  double sum = 0;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string TokenIdPrompt(int n) {
  std::string ids;
  ids.reserve(static_cast<size_t>(n) * 6);
  for (int i = 0; i < n; ++i) ids += (i ? "," : "") + std::to_string(1000 + i % 50000);
  return "[" + ids + "]";
}

struct Mocks {
  RunningMock small = MustStartMock({"--model", "small-model"});
  RunningMock large = MustStartMock({"--model", "large-model"});
  int64_t Requests() const { return Counter(small, "requests") + Counter(large, "requests"); }
};

}  // namespace

TEST_CASE(
    "out-of-range numbers are a 400 on every endpoint, and every exit path leaves the "
    "in-flight gauge at zero and counts each request once",
    "[integration][security]") {
  Mocks m;
  RunningGateway gw = MustStartGateway(MoneyConfig(m.small, m.large, ""));
  std::string huge(5000, '9');
  const std::string chat_1e400 =
      R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"temperature":1e400})";
  struct Case {
    std::string path, body;
    httplib::Headers headers;
    int status;
  };
  auto with = [](httplib::Headers h, std::string k, std::string v) {
    h.emplace(std::move(k), std::move(v));
    return h;
  };
  std::vector<Case> cases = {
      {"/v1/chat/completions", chat_1e400, kAuth, 400},
      {"/v1/completions", R"({"model":"auto","prompt":"hi","seed":)" + huge + "}", kAuth, 400},
      {"/v1/embeddings", R"({"model":"small","input":"x","dimensions":-1e999})", kAuth, 400},
      {"/v1/chat/completions", "{not json", kAuth, 400},
      {"/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})",
       kAuth, 404},
      {"/v1/chat/completions", ChatBody("hi"), {{"Authorization", "Bearer wrong-key"}}, 401},
      {"/v1/chat/completions", ChatBody("hi"), with(kAuth, "x-signalbox-max-cost-usd", "0"), 429},
      {"/v1/chat/completions", ChatBody("hi"), kAuth, 200},
      {"/v1/chat/completions", ChatBody("hi", true), kAuth, 200},
      {"/v1/chat/completions", ChatBody("hi"), with(kAuth, "x-mock-fault", "500"), 502},
  };
  double before = MetricSum(gw, "signalbox_requests_total");
  for (const auto& c : cases) {
    auto r = Post(gw, c.path, c.body, c.headers);
    REQUIRE(r);
    INFO(c.path << " " << c.body.substr(0, 120) << " -> " << r->status << " "
                << r->body.substr(0, 300));
    CHECK(r->status == c.status);
    if (c.status == 400) {
      json e = CheckErrorBody(r->body);
      CHECK(e["type"] == "invalid_request_error");
      CHECK(r->body.find("99999") == std::string::npos);
    }
  }
  auto route = Post(gw, "/v1/route", chat_1e400);
  REQUIRE(route);
  CHECK(route->status == 400);
  CHECK(MetricSum(gw, "signalbox_inflight_requests") == 0);
  CHECK(MetricSum(gw, "signalbox_requests_total") - before == static_cast<double>(cases.size()));
  // The operational log holds no line longer than a few KB (no literal was copied in).
  for (const auto& line : gw.process->Lines(OutputStream::kStderr)) CHECK(line.size() < 4096);
}

TEST_CASE(
    "billed input the text does not show is counted before any upstream call: a token-id "
    "prompt, 1.5 MB of tools, a 1 MB audio part",
    "[integration][security][budget]") {
  Mocks m;
  SECTION("no context window: the request cap refuses (429 budget_exceeded)") {
    RunningGateway gw = MustStartGateway(MoneyConfig(m.small, m.large, ""));
    std::string tools = R"([{"type":"function","function":{"name":"f","description":")" +
                        std::string(1500000, 'a') + R"("}}])";
    std::string audio = R"([{"type":"input_audio","input_audio":{"format":"wav","data":")" +
                        std::string(1 << 20, 'A') + R"("}}])";
    std::vector<std::pair<std::string, std::string>> cases = {
        {"/v1/completions",
         R"({"model":"auto","max_tokens":1,"prompt":)" + TokenIdPrompt(250000) + "}"},
        {"/v1/chat/completions",
         R"({"model":"auto","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tools":)" +
             tools + "}"},
        {"/v1/chat/completions",
         R"({"model":"auto","max_tokens":1,"messages":[{"role":"user","content":)" + audio + "}]}"},
    };
    for (const auto& [path, body] : cases) {
      auto r = Post(gw, path, body);
      REQUIRE(r);
      INFO(path << " -> " << r->body.substr(0, 400));
      CHECK(r->status == 429);
      CHECK(CheckErrorBody(r->body)["code"] == "budget_exceeded");
    }
    auto route = Post(gw, "/v1/route", cases[1].second);
    REQUIRE(route);
    REQUIRE(route->status == 200);
    CHECK(json::parse(route->body)["input_tokens"].get<int64_t>() >= 1500000 / 4);
    CHECK(m.Requests() == 0);
  }
  SECTION("a 128k context window refuses the 250k-token prompt (400 context_length_exceeded)") {
    RunningGateway gw =
        MustStartGateway(MoneyConfig(m.small, m.large, "    context_window: 128000\n"));
    auto r = Post(gw, "/v1/completions",
                  R"({"model":"auto","max_tokens":1,"prompt":)" + TokenIdPrompt(250000) + "}");
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 400);
    CHECK(CheckErrorBody(r->body)["code"] == "context_length_exceeded");
    CHECK(m.Requests() == 0);
  }
}

TEST_CASE("a 4 MiB model name costs the access log 256 bytes", "[integration][security]") {
  Mocks m;
  RunningGateway gw = MustStartGateway(MoneyConfig(m.small, m.large, ""));
  std::string id = NextId("bigmodel");
  auto h = kAuth;
  h.emplace("x-request-id", id);
  auto r = Post(gw, "/v1/chat/completions",
                R"({"model":")" + std::string(4 << 20, 'm') +
                    R"(","messages":[{"role":"user","content":"hi"}]})",
                h);
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.size() < 1024);
  json line = AccessLine(gw, id);
  CHECK(line.dump().size() < 1024);
  CHECK(line["model"].get<std::string>().find("...[cut ") != std::string::npos);
}

TEST_CASE(
    "forwarding: Connection-named headers, the billing organisation and spoofed forwarding "
    "headers never reach the upstream, the gateway sets its own X-Forwarded-For",
    "[integration][security]") {
  Mocks m;
  RunningGateway gw = MustStartGateway(MoneyConfig(m.small, m.large, ""));
  httplib::Headers h = kAuth;
  h.emplace("Connection", "keep-alive, X-Hop-Secret");
  h.emplace("X-Hop-Secret", "s3cret");
  h.emplace("OpenAI-Organization", "org-victim");
  h.emplace("OpenAI-Project", "proj-victim");
  h.emplace("X-Forwarded-For", "6.6.6.6");
  h.emplace("X-Real-IP", "6.6.6.6");
  h.emplace("X-Custom", "kept");
  auto r = Post(gw, "/v1/chat/completions", ChatBody("hi"), h);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json last = m.small.LastRequest();
  REQUIRE(last.is_object());
  json headers = json::object();
  for (auto& [k, v] : last["headers"].items()) {
    std::string lk = k;
    for (char& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers[lk] = v;
  }
  INFO(headers.dump());
  CHECK_FALSE(headers.contains("x-hop-secret"));
  CHECK_FALSE(headers.contains("openai-organization"));
  CHECK_FALSE(headers.contains("openai-project"));
  CHECK_FALSE(headers.contains("x-real-ip"));
  CHECK(headers["x-forwarded-for"] == "127.0.0.1");
  CHECK(headers["x-custom"] == "kept");
}

TEST_CASE("two x-signalbox-max-cost-usd headers: the lower cap wins",
          "[integration][security][budget]") {
  Mocks m;
  RunningGateway gw = MustStartGateway(MoneyConfig(m.small, m.large, ""));
  for (auto order :
       {std::pair<std::string, std::string>{"100", "0.0000001"}, {"0.0000001", "100"}}) {
    httplib::Headers h = kAuth;
    h.emplace("x-signalbox-max-cost-usd", order.first);
    h.emplace("x-signalbox-max-cost-usd", order.second);
    auto r = Post(gw, "/v1/chat/completions", ChatBody("hi"), h);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 429);
    CHECK(r->body.find("x-signalbox-max-cost-usd") != std::string::npos);
  }
  CHECK(m.Requests() == 0);
}

TEST_CASE(
    "a stream cut at the end of the drain says the gateway is shutting down and is not a "
    "backend failure",
    "[integration][security][stream]") {
  RunningMock small =
      MustStartMock({"--model", "small-model", "--tokens", "2000", "--token-interval", "20"});
  RunningMock large = MustStartMock({"--model", "large-model"});
  RunningGateway gw = MustStartGateway(MoneyConfig(small, large, "", "  timeouts: {drain: 300ms}"));
  bool signalled = false;
  SseResponse s = PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), kAuth,
                          [&](const SseResponse& r) {
                            if (r.events.size() == 3 && !signalled)
                              signalled = gw.process->Signal(SIGTERM);
                            return false;
                          });
  REQUIRE(signalled);
  INFO(s.raw.substr(s.raw.size() > 600 ? s.raw.size() - 600 : 0));
  REQUIRE_FALSE(s.events.empty());
  json last = json::parse(s.events.back(), nullptr, false);
  REQUIRE(last.is_object());
  REQUIRE(last.contains("error"));
  CHECK(last["error"]["code"] == "shutting_down");
  CHECK(last["error"]["message"].get<std::string>().find("shutting down") != std::string::npos);
  CHECK(gw.process->Wait() == 0);
  for (const auto& line : gw.process->Lines(OutputStream::kStderr)) {
    INFO(line);
    CHECK(line.find("circuit opened") == std::string::npos);
  }
}

TEST_CASE("a reload keeps restart-only keys with a warning and cannot open /admin/*",
          "[integration][security][reload]") {
  Mocks m;
  std::string yaml = MoneyConfig(m.small, m.large, "");
  RunningGateway gw = MustStartGateway(yaml);
  httplib::Client c("127.0.0.1", gw.port);
  httplib::Headers admin = {{"Authorization", std::string("Bearer ") + kAdmin}};

  std::string moved = yaml;
  moved.replace(moved.find("listen: 127.0.0.1:0"), 19, "listen: 127.0.0.1:1");
  gw.WriteConfig(moved);
  auto r = c.Post("/admin/reload", admin, "", "application/json");
  INFO("reload: " << (r ? std::string("answered") : httplib::to_string(r.error())));
  if (!r) {
    for (const auto& l : gw.process->Lines(OutputStream::kStderr)) UNSCOPED_INFO(l);
  }
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == 200);
  CHECK(r->body.find("server.listen changed from") != std::string::npos);
  auto cfg = c.Get("/admin/config", admin);
  REQUIRE(cfg);
  CHECK(json::parse(cfg->body)["config"]["server"]["listen"] == "127.0.0.1:0");

  std::string open = moved;
  open.replace(open.find(std::string("admin_token: ") + kAdmin), 13 + std::string(kAdmin).size(),
               "admin_token: \"\"");
  gw.WriteConfig(open);
  auto refused = c.Post("/admin/reload", admin, "", "application/json");
  REQUIRE(refused);
  INFO(refused->body);
  CHECK(refused->status == 422);
  CHECK(refused->body.find("server.admin_token") != std::string::npos);
  auto unauth = c.Get("/admin/config");
  REQUIRE(unauth);
  CHECK(unauth->status == 401);
}
