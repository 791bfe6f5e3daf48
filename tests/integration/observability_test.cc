// Observability end to end: the real gateway in front of two signalbox-mock models takes
// a known mix of traffic (plain, streamed, unknown models, fallbacks, a budget refusal,
// an all-fail, an opened circuit, failed reloads); then /metrics must count exactly that
// traffic, pass `promtool check metrics`, and carry no unbounded label value; the access
// log must hold one 16-field line per request; SIGUSR1 must reopen the access-log file
// without losing a line.
#include <fmt/format.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/sse_client.h"
#include "testing/poll.h"

using namespace signalbox::testing;
using nlohmann::json;

namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kKeyA = "sk-obs-team-a-0123456789";
constexpr const char* kKeyZero = "sk-obs-zero-0123456789";
constexpr const char* kKeyLow = "sk-obs-low-0123456789";

// SPEC.md "Access log": the fields, in this order, then `deployment` (issue 13).
const std::vector<std::string> kAccessFields = {
    "ts",       "request_id", "key",         "model",   "backend",      "rule",          "tier",
    "score",    "status",     "duration_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd",
    "attempts", "error",      "deployment"};

std::string RandomHex() {
  static std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{:016x}", rng());
}

bool PollUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return signalbox::testing::Eventually(pred, timeout);
}

// The gateway's config: `small` is healthy, `large` (started with --fault 503) fails
// every call. Tool requests go large-first, so they fall back to small. Three keys:
// team-a (unlimited), zero ($0 a day: every routed request is refused) and low (room for
// a small call, not for a large one).
std::string ObsConfig(const RunningMock& small, const RunningMock& large,
                      const std::string& server_extra = "") {
  return fmt::format(R"(server:
  listen: 127.0.0.1:0
{server}
backends:
  - name: small
    url: {small}/v1
    model: small-model
    price: {{input_per_mtok: 0.10, output_per_mtok: 0.30}}
  - name: large
    url: {large}/v1
    model: large-model
    price: {{input_per_mtok: 2.50, output_per_mtok: 10.00}}
    circuit: {{failures: 5, cooldown: 10m}}
budgets:
  ledger_path: {{STATE}}/ledger.db
  keys:
    - id: team-a
      key: ${{OBS_TEAM_A_KEY}}
    - id: zero
      key: ${{OBS_ZERO_KEY}}
      daily_usd: 0
    - id: low
      key: ${{OBS_LOW_KEY}}
      daily_usd: 0.00005
router:
  rules:
    - name: tools
      when: {{has_tools: true}}
      route: [large, small]
    - name: default
      route: [small, large]
)",
                     fmt::arg("server", server_extra), fmt::arg("small", small.BaseUrl()),
                     fmt::arg("large", large.BaseUrl()));
}

struct ObsFixture {
  RunningMock small, large;
  RunningGateway gw;
  explicit ObsFixture(const std::string& server_extra = "") {
    auto s = StartMock({"--model", "small-model"});
    auto l = StartMock({"--model", "large-model", "--fault", "503"});
    REQUIRE(s.ok());
    REQUIRE(l.ok());
    small = std::move(s).value();
    large = std::move(l).value();
    GatewayOptions o;
    o.config_yaml = ObsConfig(small, large, server_extra);
    o.env = {{"OBS_TEAM_A_KEY", kKeyA}, {"OBS_ZERO_KEY", kKeyZero}, {"OBS_LOW_KEY", kKeyLow}};
    auto g = StartGateway(o);
    if (!g.ok()) FAIL(g.status().message());
    gw = std::move(g).value();
  }
  std::string Scrape() const {
    auto r = gw.Client()->Get("/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
    return r->body;
  }
};

httplib::Headers Auth(const char* key, const std::string& request_id,
                      std::initializer_list<std::pair<std::string, std::string>> more = {}) {
  httplib::Headers h = {{"Authorization", std::string("Bearer ") + key},
                        {"x-request-id", request_id}};
  for (const auto& [k, v] : more) h.emplace(k, v);
  return h;
}

// ---- the text exposition, read back ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> ParseSamples(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        REQUIRE(eq != std::string::npos);
        std::string key = line.substr(i, eq - i);
        REQUIRE(line.at(eq + 1) == '"');
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        REQUIRE(j < line.size());
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      REQUIRE(i < line.size());
      ++i;  // '}'
    }
    REQUIRE(i < line.size());
    REQUIRE(line[i] == ' ');
    std::string v = line.substr(i + 1);
    s.value = v == "+Inf" ? INFINITY : v == "-Inf" ? -INFINITY : std::stod(v);
    out.push_back(std::move(s));
  }
  return out;
}

using Labels = std::map<std::string, std::string>;

// The value of the series `name{labels}` (exactly those labels); NaN when absent, so an
// equality check on a missing series fails.
double Value(const std::vector<Sample>& samples, const std::string& name,
             const Labels& labels = {}) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return NAN;
}

// Every series of `name`, as labels -> value.
std::map<Labels, double> Family(const std::vector<Sample>& samples, const std::string& name) {
  std::map<Labels, double> out;
  for (const auto& s : samples) {
    if (s.name == name) out[s.labels] = s.value;
  }
  return out;
}

// Same, without the series whose value is 0 (pre-created ones).
std::map<Labels, double> NonZero(const std::vector<Sample>& samples, const std::string& name) {
  auto all = Family(samples, name);
  std::map<Labels, double> out;
  for (const auto& [l, v] : all) {
    if (v != 0) out[l] = v;
  }
  return out;
}

std::string Describe(const std::map<Labels, double>& m) {
  std::string s;
  for (const auto& [l, v] : m) {
    s += "{";
    for (const auto& [k, val] : l) s += k + "=\"" + val + "\",";
    s += "} " + fmt::format("{}", v) + "\n";
  }
  return s;
}

bool Near(double a, double b) { return std::abs(a - b) <= 1e-12 + 1e-9 * std::abs(b); }

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

// `promtool check metrics` reads stdin only; exit 0 = clean, 3 = lint problems, 1 = error.
PromtoolResult Promtool(const std::string& text) {
  char path[] = "/tmp/signalbox_obs_promtool_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string(kPromtool) + " check metrics < " + path + " 2>&1";
  PromtoolResult r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  unlink(path);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool HavePromtool() { return access(kPromtool, X_OK) == 0; }

// Access-log lines from the gateway's stdout, parsed keeping the key order.
std::vector<nlohmann::ordered_json> OrderedAccessLines(const std::vector<std::string>& lines) {
  std::vector<nlohmann::ordered_json> out;
  for (const auto& l : lines) {
    auto j = nlohmann::ordered_json::parse(l, nullptr, false);
    if (j.is_object() && j.contains("request_id")) out.push_back(std::move(j));
  }
  return out;
}

std::vector<std::string> KeysInOrder(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

// ---- the traffic, and what each request told its client ----

struct Sent {
  std::string kind;
  std::string request_id;
  std::string key_id;
  int status = 0;
  bool stream = false;
  std::string backend, tier, rule;  // from x-signalbox-* ("" when absent)
  bool billed = false;              // a 200 whose usage the client saw
  int64_t input_tokens = 0, output_tokens = 0;
  int attempts = 0;  // expected upstream attempts
};

std::string Header(const httplib::Headers& h, const std::string& name) {
  auto it = h.find(name);
  return it == h.end() ? "" : it->second;
}

class Traffic {
 public:
  explicit Traffic(const ObsFixture& f) : f_(f), run_(RandomHex()) {}

  const std::vector<Sent>& sent() const { return sent_; }
  const std::string& run() const { return run_; }
  std::string NextId(const std::string& kind) {
    return fmt::format("obs-{}-{}-{}", run_, kind, sent_.size());
  }

  Sent& Plain(const std::string& kind, const char* key, const std::string& key_id,
              const std::string& body,
              std::initializer_list<std::pair<std::string, std::string>> more = {},
              int attempts = 1) {
    Sent s;
    s.kind = kind;
    s.key_id = key_id;
    s.request_id = NextId(kind);
    s.attempts = attempts;
    auto r = f_.gw.Client()->Post("/v1/chat/completions", Auth(key, s.request_id, more), body,
                                  "application/json");
    REQUIRE(r);
    s.status = r->status;
    s.backend = r->get_header_value("x-signalbox-backend");
    s.tier = r->get_header_value("x-signalbox-tier");
    s.rule = r->get_header_value("x-signalbox-rule");
    CHECK(r->get_header_value("x-request-id") == s.request_id);
    if (r->status == 200) {
      auto j = json::parse(r->body);
      s.billed = true;
      s.input_tokens = j["usage"]["prompt_tokens"].get<int64_t>();
      s.output_tokens = j["usage"]["completion_tokens"].get<int64_t>();
    }
    sent_.push_back(s);
    return sent_.back();
  }

  Sent& Stream(const std::string& content) {
    Sent s;
    s.kind = "stream";
    s.key_id = "team-a";
    s.stream = true;
    s.request_id = NextId("stream");
    s.attempts = 1;
    auto r = PostSse(f_.gw.BaseUrl(), "/v1/chat/completions",
                     ChatBody(content, true, R"("stream_options":{"include_usage":true})"),
                     Auth(kKeyA, s.request_id));
    s.status = r.status;
    s.backend = Header(r.headers, "x-signalbox-backend");
    s.tier = Header(r.headers, "x-signalbox-tier");
    s.rule = Header(r.headers, "x-signalbox-rule");
    CHECK(r.Done());
    for (const auto& e : r.events) {
      auto j = json::parse(e, nullptr, false);
      if (j.is_object() && j.contains("usage") && j["usage"].is_object()) {
        s.billed = true;
        s.input_tokens = j["usage"]["prompt_tokens"].get<int64_t>();
        s.output_tokens = j["usage"]["completion_tokens"].get<int64_t>();
      }
    }
    CHECK(s.billed);
    sent_.push_back(s);
    return sent_.back();
  }

 private:
  const ObsFixture& f_;
  std::string run_;
  std::vector<Sent> sent_;
};

const char* kToolsExtra =
    R"("tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}])";

// Waits until the gateway has finished (logged) `n` requests and its in-flight gauge is
// back to 0; returns the last scrape.
std::string SettledScrape(const ObsFixture& f, size_t n) {
  bool logged = PollUntil([&] { return f.gw.AccessLog().size() >= n; });
  INFO(f.gw.process->Output());
  REQUIRE(logged);
  std::string text;
  bool idle = PollUntil([&] {
    text = f.Scrape();
    return Value(ParseSamples(text), "signalbox_inflight_requests") == 0;
  });
  CHECK(idle);
  return text;
}

}  // namespace

TEST_CASE("promtool accepts the live /metrics of a gateway that has served every kind of request",
          "[integration][observability]") {
  if (!HavePromtool()) {
    WARN("SKIPPED: " << kPromtool << " is not installed (Debian package prometheus)");
    return;
  }
  ObsFixture f;
  auto before = Promtool(f.Scrape());
  INFO(before.output);
  CHECK(before.exit_code == 0);
  Traffic t(f);
  t.Plain("plain", kKeyA, "team-a", ChatBody("hello"));
  t.Stream("hello stream");
  t.Plain("notfound", kKeyA, "team-a",
          R"({"model":"obs-nope","messages":[{"role":"user","content":"x"}]})");
  t.Plain("fallback", kKeyA, "team-a", ChatBody("use a tool", false, kToolsExtra), {}, 2);
  t.Plain("budget", kKeyZero, "zero", ChatBody("hello"));
  f.gw.WriteConfig("server: [unclosed\n");
  auto reload = f.gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(reload);
  CHECK(reload->status == 422);
  std::string text = SettledScrape(f, t.sent().size());
  auto after = Promtool(text);
  INFO(text);
  INFO(after.output);
  CHECK(after.exit_code == 0);
}

TEST_CASE("/metrics counts exactly the traffic the gateway served, with bounded label values",
          "[integration][observability]") {
  ObsFixture f;
  Traffic t(f);
  const std::string secret_word = "zebra" + RandomHex();  // in a prompt: never in /metrics
  const std::string odd_model = "obs-model-" + RandomHex();

  // 5 plain requests of different lengths, routed by `default` to small.
  for (int i = 0; i < 5; ++i) {
    std::string prompt =
        "hello " + std::string(static_cast<size_t>(i) * 13, 'a') + " " + secret_word;
    auto& s = t.Plain("plain", kKeyA, "team-a", ChatBody(prompt));
    CHECK(s.status == 200);
    CHECK(s.backend == "small");
    CHECK(s.rule == "default");
  }
  // 3 streams (with the usage chunk, so the client sees what the upstream reported).
  for (int i = 0; i < 3; ++i) {
    auto& s = t.Stream("stream number " + std::to_string(i) + " " + secret_word);
    CHECK(s.status == 200);
    CHECK(s.backend == "small");
  }
  // 2 unknown models: 404, never classified, never routed.
  for (int i = 0; i < 2; ++i) {
    json body = {{"model", odd_model + "-" + std::to_string(i)},
                 {"messages", {{{"role", "user"}, {"content", "x"}}}}};
    auto& s = t.Plain("notfound", kKeyA, "team-a", body.dump(), {}, 0);
    CHECK(s.status == 404);
    CHECK(s.backend.empty());
    CHECK(s.tier.empty());
  }
  // 2 tool requests: large (always 503) first, then the fallback to small answers.
  for (int i = 0; i < 2; ++i) {
    auto& s = t.Plain("fallback", kKeyA, "team-a",
                      ChatBody("call a tool please", false, kToolsExtra), {}, 2);
    CHECK(s.status == 200);
    CHECK(s.backend == "small");
    CHECK(s.rule == "tools");
  }
  {
    auto mid = ParseSamples(f.Scrape());
    CHECK(Value(mid, "signalbox_backend_up", {{"backend", "small"}}) == 1);
    CHECK(Value(mid, "signalbox_backend_up", {{"backend", "large"}}) == 1);  // 2 failures < 5
  }
  // A key with a $0 daily budget: refused (429) before any upstream call.
  {
    auto& s = t.Plain("budget", kKeyZero, "zero", ChatBody("hello"), {}, 0);
    CHECK(s.status == 429);
    CHECK(s.backend.empty());
  }
  // Both backends fail (the fault header reaches both mocks): 503 after small -> large.
  {
    auto& s = t.Plain("allfail", kKeyA, "team-a", ChatBody("hello"), {{"x-mock-fault", "503"}}, 2);
    CHECK(s.status == 503);
    CHECK(s.backend == "large");
  }
  // Two more tool requests: large's 4th and 5th consecutive failures open its circuit.
  for (int i = 0; i < 2; ++i) {
    auto& s = t.Plain("fallback", kKeyA, "team-a",
                      ChatBody("call a tool please", false, kToolsExtra), {}, 2);
    CHECK(s.status == 200);
  }
  // Large is now circuit-open: skipped without a call, straight to small.
  {
    auto& s = t.Plain("circuit", kKeyA, "team-a",
                      ChatBody("call a tool please", false, kToolsExtra), {}, 1);
    CHECK(s.status == 200);
    CHECK(s.backend == "small");
  }
  CHECK(f.large.Stats()["requests"] == 5);
  // A failed reload: the watcher sees the bad file, then POST /admin/reload rejects it too.
  f.gw.WriteConfig(ObsConfig(f.small, f.large) + "unknown_section: 1\n");
  auto rejected_by_watcher = f.gw.process->WaitForLine(
      [](const std::string& l) {
        auto j = json::parse(l, nullptr, false);
        return j.is_object() &&
               j.value("msg", "").find("config reload rejected") != std::string::npos &&
               j.value("trigger", "") == "file";
      },
      std::chrono::seconds(15), OutputStream::kStderr);
  CHECK(rejected_by_watcher);
  auto reload = f.gw.Client()->Post("/admin/reload", "", "application/json");
  REQUIRE(reload);
  CHECK(reload->status == 422);
  CHECK(!json::parse(reload->body)["errors"].empty());

  const auto& sent = t.sent();
  const std::string text = SettledScrape(f, sent.size());
  const auto m = ParseSamples(text);
  INFO(text);

  if (HavePromtool()) {
    auto p = Promtool(text);
    INFO(p.output);
    CHECK(p.exit_code == 0);
  }

  // requests_total{backend,tier,rule,status,api}: one count per request, labelled with what
  // the client was told in the x-signalbox-* headers.
  std::map<Labels, double> want_requests;
  std::map<std::string, double> want_duration;  // by final backend
  std::map<std::string, double> want_ttft;
  std::map<std::string, double> want_in, want_out;
  double want_classified = 0;
  for (const auto& s : sent) {
    want_requests[{{"backend", s.backend},
                   {"tier", s.tier},
                   {"rule", s.rule},
                   {"status", std::to_string(s.status)},
                   {"api", "chat"}}] += 1;
    want_duration[s.backend] += 1;
    if (s.stream && s.status == 200) want_ttft[s.backend] += 1;
    if (s.billed) {
      want_in[s.backend] += static_cast<double>(s.input_tokens);
      want_out[s.backend] += static_cast<double>(s.output_tokens);
    }
    if (!s.tier.empty()) want_classified += 1;
  }
  // The label sets derived from headers are the ones the traffic should produce.
  auto wanted = [&](const Labels& l) {
    auto it = want_requests.find(l);
    return it == want_requests.end() ? 0.0 : it->second;
  };
  CHECK(wanted({{"backend", "small"},
                {"tier", sent[0].tier},
                {"rule", "default"},
                {"status", "200"},
                {"api", "chat"}}) >= 5);
  CHECK(wanted({{"backend", ""}, {"tier", ""}, {"rule", ""}, {"status", "404"}, {"api", "chat"}}) ==
        2);
  CHECK(wanted({{"backend", "large"},
                {"tier", sent[0].tier},
                {"rule", "default"},
                {"status", "503"},
                {"api", "chat"}}) == 1);
  CHECK(want_classified == 15);  // every model "auto" request that reached the router
  {
    auto got = NonZero(m, "signalbox_requests_total");
    INFO("got:\n" << Describe(got) << "want:\n" << Describe(want_requests));
    CHECK(got == want_requests);
  }

  // Durations: one observation per request, under its final backend ("" when none ran);
  // +Inf bucket = _count.
  for (const auto& [backend, n] : want_duration) {
    INFO("backend=" << backend);
    CHECK(Value(m, "signalbox_request_duration_seconds_count", {{"backend", backend}}) == n);
    CHECK(Value(m, "signalbox_request_duration_seconds_bucket",
                {{"backend", backend}, {"le", "+Inf"}}) == n);
  }
  {
    double total = 0;
    for (const auto& [l, v] : Family(m, "signalbox_request_duration_seconds_count")) total += v;
    CHECK(total == static_cast<double>(sent.size()));
  }
  // TTFT: streams only.
  CHECK(Value(m, "signalbox_time_to_first_token_seconds_count", {{"backend", "small"}}) == 3);
  CHECK(Value(m, "signalbox_time_to_first_token_seconds_count", {{"backend", "large"}}) == 0);
  CHECK(want_ttft["small"] == 3);

  // Tokens: exactly the usage the mock reported to the clients.
  CHECK(want_in["small"] > 0);
  CHECK(Value(m, "signalbox_upstream_tokens_total", {{"backend", "small"}, {"type", "input"}}) ==
        want_in["small"]);
  CHECK(Value(m, "signalbox_upstream_tokens_total", {{"backend", "small"}, {"type", "output"}}) ==
        want_out["small"]);
  CHECK(Value(m, "signalbox_upstream_tokens_total", {{"backend", "large"}, {"type", "input"}}) ==
        0);
  CHECK(Value(m, "signalbox_upstream_tokens_total", {{"backend", "large"}, {"type", "output"}}) ==
        0);

  // Cost: the same money the ledger holds (GET /admin/spend), per key and per backend.
  {
    auto r = f.gw.Client()->Get("/admin/spend");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json spend = json::parse(r->body);
    INFO(spend.dump(2));
    auto cost = Family(m, "signalbox_cost_usd_total");
    std::map<std::string, double> by_key, by_backend;
    double total = 0;
    for (const auto& [l, v] : cost) {
      by_key[l.at("key")] += v;
      by_backend[l.at("backend")] += v;
      total += v;
    }
    CHECK(total > 0);
    for (const auto& k : spend["keys"]) {
      INFO("key " << k["id"]);
      CHECK(Near(by_key[k["id"].get<std::string>()], k["day_usd"].get<double>()));
    }
    for (const auto& b : spend["backends"]) {
      INFO("backend " << b["name"]);
      CHECK(Near(by_backend[b["name"].get<std::string>()], b["day_usd"].get<double>()));
    }
    CHECK(Near(total, spend["total"]["day_usd"].get<double>()));
    CHECK(by_backend["large"] == 0);
    CHECK(by_key["zero"] == 0);
    // ... and the access log's cost_usd adds up to the same.
    double logged = 0;
    for (const auto& a : f.gw.AccessLog()) {
      if (a["cost_usd"].is_number()) logged += a["cost_usd"].get<double>();
    }
    CHECK(Near(logged, total));
  }

  // Fallbacks: large -> small for each tool request (4 upstream errors, 1 open circuit),
  // small -> large for the all-fail.
  {
    std::map<Labels, double> want = {
        {{{"from", "large"}, {"to", "small"}, {"reason", "upstream_error"}}, 4},
        {{{"from", "large"}, {"to", "small"}, {"reason", "circuit_open"}}, 1},
        {{{"from", "small"}, {"to", "large"}, {"reason", "upstream_error"}}, 1},
    };
    auto got = NonZero(m, "signalbox_fallbacks_total");
    INFO("got:\n" << Describe(got));
    CHECK(got == want);
  }
  CHECK(Value(m, "signalbox_budget_rejections_total", {{"key", "zero"}}) == 1);
  CHECK(Value(m, "signalbox_budget_rejections_total", {{"key", "team-a"}}) == 0);
  CHECK(Value(m, "signalbox_inflight_requests") == 0);
  CHECK(Value(m, "signalbox_backend_up", {{"backend", "small"}}) == 1);
  CHECK(Value(m, "signalbox_backend_up", {{"backend", "large"}}) == 0);
  CHECK(Value(m, "signalbox_config_reloads_total", {{"result", "success"}}) == 1);  // start-up
  CHECK(Value(m, "signalbox_config_reloads_total", {{"result", "failure"}}) ==
        2);  // watcher + admin
  CHECK(Value(m, "signalbox_classifier_seconds_count") == want_classified);
  CHECK(Value(m, "signalbox_classifier_seconds_bucket", {{"le", "+Inf"}}) == want_classified);

  // Bounded labels: no request id, prompt text, client model string or key secret in the
  // exposition, and every label value comes from the config or a fixed vocabulary.
  for (const auto& s : sent) CHECK(text.find(s.request_id) == std::string::npos);
  CHECK(text.find(t.run()) == std::string::npos);
  CHECK(text.find(secret_word) == std::string::npos);
  CHECK(text.find(odd_model) == std::string::npos);
  for (const char* secret : {kKeyA, kKeyZero, kKeyLow})
    CHECK(text.find(secret) == std::string::npos);
  const std::set<std::string> backends = {"", "small", "large"};
  const std::set<std::string> tiers = {"", "simple", "medium", "complex"};
  const std::set<std::string> rules = {"", "default", "tools", "explicit"};
  const std::set<std::string> keys = {"team-a", "zero", "low"};
  const std::regex status_re("[1-5][0-9][0-9]"), reason_re("[a-z_]+");
  for (const auto& s : m) {
    if (s.name.rfind("signalbox_", 0) != 0) continue;
    for (const auto& [k, v] : s.labels) {
      INFO(s.name << " " << k << "=\"" << v << "\"");
      if (k == "backend" || k == "from" || k == "to")
        CHECK(backends.count(v) == 1);
      else if (k == "tier")
        CHECK(tiers.count(v) == 1);
      else if (k == "rule")
        CHECK(rules.count(v) == 1);
      else if (k == "status")
        CHECK(std::regex_match(v, status_re));
      else if (k == "key")
        CHECK(keys.count(v) == 1);
      else if (k == "reason")
        CHECK(std::regex_match(v, reason_re));
      else if (k == "outcome")  // an attempt's outcome: ok, upstream_5xx, connect_failed...
        CHECK(std::regex_match(v, std::regex("[a-z0-9_]+")));
      else if (k == "deployment")
        CHECK(v == "0");  // a backend with one url: one implicit deployment
      else if (k == "type")
        CHECK((v == "input" || v == "output"));
      else if (k == "result")
        CHECK((v == "success" || v == "failure"));
      else if (k == "le")
        CHECK(!v.empty());
      else if (k == "api")
        CHECK((v == "" || v == "chat" || v == "completions" || v == "embeddings" ||
               v == "responses" || v == "messages"));
      else
        FAIL_CHECK("unexpected label " << k);
    }
  }

  // The access log: one line per request, exactly the SPEC's 16 fields in order (and
  // `deployment` last), and the
  // same facts the client saw.
  auto lines = OrderedAccessLines(f.gw.process->Lines(OutputStream::kStdout));
  CHECK(lines.size() == sent.size());
  const std::regex ts_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const auto& l : lines) {
    INFO(l.dump());
    CHECK(KeysInOrder(l) == kAccessFields);
    CHECK(std::regex_match(l["ts"].get<std::string>(), ts_re));
    std::string raw = l.dump();
    CHECK(raw.find(secret_word) == std::string::npos);
    for (const char* secret : {kKeyA, kKeyZero, kKeyLow})
      CHECK(raw.find(secret) == std::string::npos);
  }
  for (const auto& s : sent) {
    INFO(s.kind << " " << s.request_id);
    std::vector<nlohmann::ordered_json> mine;
    for (const auto& l : lines) {
      if (l["request_id"] == s.request_id) mine.push_back(l);
    }
    REQUIRE(mine.size() == 1);
    const auto& a = mine[0];
    INFO(a.dump());
    CHECK(a["status"] == s.status);
    CHECK(a["key"] == s.key_id);
    CHECK(a["backend"] == (s.backend.empty() ? json() : json(s.backend)));
    CHECK(a["tier"] == (s.tier.empty() ? json() : json(s.tier)));
    CHECK(a["score"].is_number() == !s.tier.empty());
    CHECK(a["attempts"] == s.attempts);
    CHECK(a["ttft_ms"].is_number() == (s.stream && s.status == 200));
    CHECK(a["duration_ms"].is_number());
    if (s.billed) {
      CHECK(a["input_tokens"] == s.input_tokens);
      CHECK(a["output_tokens"] == s.output_tokens);
      CHECK(a["error"].is_null());
    } else {
      CHECK(a["error"].is_string());
    }
    if (s.kind == "notfound") CHECK(a["model"].get<std::string>().rfind(odd_model, 0) == 0);
    if (s.kind == "plain") CHECK(a["model"] == "auto");
  }
}

TEST_CASE(
    "a budget refusal at a fallback (429 budget_exceeded) counts in "
    "signalbox_budget_rejections_total",
    "[integration][observability][budget]") {
  // Key `low` can afford small but not large. Both mocks fail this request, so the chain
  // ends at large, which the key cannot afford: SPEC says that is a 429 budget refusal.
  ObsFixture f;
  auto r = f.gw.Client()->Post("/v1/chat/completions",
                               Auth(kKeyLow, "obs-low-1", {{"x-mock-fault", "503"}}),
                               ChatBody("hello", false, R"("max_tokens":10)"), "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 429);
  REQUIRE(json::parse(r->body)["error"]["code"] == "budget_exceeded");
  auto m = ParseSamples(SettledScrape(f, 1));
  CHECK(Value(m, "signalbox_requests_total",
              {{"backend", r->get_header_value("x-signalbox-backend")},
               {"tier", r->get_header_value("x-signalbox-tier")},
               {"rule", "default"},
               {"status", "429"},
               {"api", "chat"}}) == 1);
  CHECK(Value(m, "signalbox_budget_rejections_total", {{"key", "low"}}) == 1);
}

TEST_CASE(
    "requests refused before routing (401 bad key, 413 body too large) are counted and logged",
    "[integration][observability]") {
  ObsFixture f("  max_body_bytes: 4KiB\n");
  auto cli = f.gw.Client();
  auto bad_key = cli->Post("/v1/chat/completions", Auth("sk-not-a-key-000000", "obs-401"),
                           ChatBody("hi"), "application/json");
  REQUIRE(bad_key);
  CHECK(bad_key->status == 401);
  auto big = cli->Post("/v1/chat/completions", Auth(kKeyA, "obs-413"),
                       ChatBody(std::string(8192, 'x')), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  // A normal request after them: once its line is logged, earlier lines would be too.
  auto ok =
      cli->Post("/v1/chat/completions", Auth(kKeyA, "obs-200"), ChatBody("hi"), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  REQUIRE(f.gw.WaitForAccess([](const json& j) { return j["request_id"] == "obs-200"; }));
  auto log = f.gw.AccessLog();
  auto logged = [&](const std::string& id) {
    return std::count_if(log.begin(), log.end(),
                         [&](const json& j) { return j["request_id"] == id; });
  };
  CHECK(logged("obs-401") == 1);
  CHECK(logged("obs-413") == 1);
  auto m = ParseSamples(f.Scrape());
  double n401 = 0, n413 = 0;
  for (const auto& [l, v] : Family(m, "signalbox_requests_total")) {
    if (l.at("status") == "401") n401 += v;
    if (l.at("status") == "413") n413 += v;
  }
  CHECK(n401 == 1);
  CHECK(n413 == 1);
}

TEST_CASE(
    "SIGUSR1 reopens server.access_log: after a rename, new lines land in a new file and none is "
    "lost",
    "[integration][observability][access-log]") {
  ObsFixture f("  access_log: {STATE}/access.log\n");
  const std::string path = f.gw.dir + "/access.log";
  const std::string rotated = path + ".1";
  auto read_lines = [](const std::string& p) {
    std::vector<std::string> out;
    std::ifstream in(p);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  };
  auto ids_in = [&](const std::string& p) {
    std::multiset<std::string> ids;
    for (const auto& l : read_lines(p)) {
      auto j = json::parse(l, nullptr, false);
      INFO(p << ": " << l);
      REQUIRE(j.is_object());  // whole lines only, never a torn one
      ids.insert(j.value("request_id", ""));
    }
    return ids;
  };
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<std::string> ok_ids;
  auto send = [&](httplib::Client& cli) {
    std::string id = "obs-rot-" + std::to_string(next++);
    auto r = cli.Post("/v1/chat/completions", Auth(kKeyA, id), ChatBody("hi"), "application/json");
    if (r && r->status == 200) {
      std::lock_guard<std::mutex> lk(mu);
      ok_ids.push_back(id);
    }
    return r && r->status == 200;
  };
  auto cli = f.gw.Client();
  for (int i = 0; i < 3; ++i) REQUIRE(send(*cli));
  REQUIRE(PollUntil([&] { return read_lines(path).size() == 3; }));
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(f.gw.AccessLog().empty());  // the file, not stdout

  // Traffic keeps flowing from two client threads while the file is rotated.
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c) {
    clients.emplace_back([&] {
      auto own = f.gw.Client();
      while (!stop) send(*own);
    });
  }
  REQUIRE(PollUntil([&] { return next.load() >= 20; }));
  std::filesystem::rename(path, rotated);
  const int sent_before_signal = next.load();
  REQUIRE(f.gw.process->Signal(SIGUSR1));
  CHECK(f.gw.WaitForLog("access log reopened"));
  // New lines reach the new file.
  bool reopened =
      PollUntil([&] { return std::filesystem::exists(path) && !read_lines(path).empty(); });
  CHECK(reopened);
  REQUIRE(PollUntil([&] { return next.load() >= sent_before_signal + 20; }));
  stop = true;
  for (auto& t : clients) t.join();
  // Lines written before the rename stay in the old file.
  const size_t total = ok_ids.size();
  REQUIRE(PollUntil([&] { return read_lines(rotated).size() + read_lines(path).size() >= total; }));
  auto old_ids = ids_in(rotated);
  auto new_ids = ids_in(path);
  CHECK(!old_ids.empty());
  CHECK(!new_ids.empty());
  std::multiset<std::string> all(old_ids.begin(), old_ids.end());
  all.insert(new_ids.begin(), new_ids.end());
  std::multiset<std::string> want(ok_ids.begin(), ok_ids.end());
  CHECK(all == want);  // none lost, none twice
  for (int i = 0; i < 3; ++i) CHECK(old_ids.count("obs-rot-" + std::to_string(i)) == 1);
  // After the reopen was acknowledged, a request lands in the new file.
  REQUIRE(send(*cli));
  std::string last = "obs-rot-" + std::to_string(next.load() - 1);
  CHECK(PollUntil([&] { return ids_in(path).count(last) == 1; }));
  CHECK(ids_in(rotated).count(last) == 0);
}
