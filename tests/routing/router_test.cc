// The pure decision function: every `when` condition, context fit, budget skips and the
// decision's explanation.
#include "routing/router.h"

#include <catch2/catch.hpp>

#include "config/loader.h"
#include "openai/request.h"
#include "routing/request_facts.h"

using namespace signalbox;
using routing::Decision;

namespace {

const char* kConfig = R"(
backends:
  - name: small
    url: http://127.0.0.1:1/v1
    model: small-model
    price: {input_per_mtok: 1, output_per_mtok: 2}
    context_window: 1000
  - name: large
    url: http://127.0.0.1:2/v1
    model: large-model
    price: {input_per_mtok: 10, output_per_mtok: 20}
    context_window: 100000
classifier:
  tiers: {simple: 0.0, medium: 0.35, complex: 0.6}
budgets:
  keys:
    - {id: team-a, key: "team-a-key-123"}
    - {id: team-b, key: "team-b-key-456"}
router:
  virtual_models: [auto, auto-fast]
  rules:
    - name: by-header
      when: {header: {x-tenant: acme}}
      route: [large]
    - name: by-key
      when: {key: team-b}
      route: [large, small]
    - name: fast
      when: {model: auto-fast}
      route: [small]
    - name: tools
      when: {has_tools: true}
      route: [large, small]
    - name: images
      when: {has_images: true, stream: true}
      route: [large]
    - name: long
      when: {input_tokens: {gte: 500}}
      route: [large, small]
    - name: hard
      when: {score: {gte: 0.6}}
      route: [large, small]
    - name: by-tier
      when: {tier: [medium, complex]}
      route: [large, small]
    - name: default
      route: [small, large]
)";

struct Env {
  Config cfg;
  std::shared_ptr<const routing::Router> router;
  Env(const std::string& yaml = kConfig) {
    auto r = LoadConfigText(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
    for (const auto& e : r.errors) INFO(e);
    REQUIRE(r.config);
    cfg = *r.config;
    router = routing::Router::Build(cfg);
  }
  Decision Decide(const std::string& body, const std::string& key = "",
                  std::map<std::string, std::string> headers = {}, routing::BudgetView b = {}) {
    ParsedRequest req;
    auto err = ParseRequest(Endpoint::kChat, body, &req);
    REQUIRE_FALSE(err);
    auto f = routing::FactsFromRequest(req, key,
                                       [&](std::string_view n) -> std::optional<std::string_view> {
                                         auto it = headers.find(std::string(n));
                                         if (it == headers.end()) return std::nullopt;
                                         return std::string_view(it->second);
                                       });
    return router->Decide(f, b);
  }
};

std::string Body(const std::string& content, const std::string& extra = "",
                 const std::string& model = "auto") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
         "\"}]" + (extra.empty() ? "" : "," + extra) + "}";
}

}  // namespace

TEST_CASE("each when-condition selects its rule", "[routing]") {
  Env env;
  struct Case {
    std::string body, key;
    std::map<std::string, std::string> headers;
    std::string rule, backend;
  };
  std::vector<Case> cases = {
      {Body("hello"), "", {}, "default", "small"},
      {Body("hello"), "", {{"x-tenant", "acme"}}, "by-header", "large"},
      {Body("hello"), "", {{"x-tenant", "other"}}, "default", "small"},
      {Body("hello"), "team-b", {}, "by-key", "large"},
      {Body("hello", "", "auto-fast"), "", {}, "fast", "small"},
      {Body("hello", R"("tools":[{"type":"function","function":{"name":"f"}}])"),
       "",
       {},
       "tools",
       "large"},
      {R"({"model":"auto","stream":true,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
       "",
       {},
       "images",
       "large"},
      {Body(std::string(3000, 'a').append(" b")), "", {}, "long", "large"},
  };
  for (const auto& c : cases) {
    INFO(c.body.substr(0, 120) << " key=" << c.key);
    Decision d = env.Decide(c.body, c.key, c.headers);
    CHECK(d.kind == Decision::Kind::kRouted);
    CHECK(d.rule == c.rule);
    REQUIRE(d.target());
    CHECK(d.target()->backend == c.backend);
    CHECK(d.classified);
  }
}

TEST_CASE("the trace says why each earlier rule did not match", "[routing]") {
  Env env;
  Decision d = env.Decide(Body("hello"));
  REQUIRE(d.trace.size() == 9);
  CHECK(d.trace[0].why_not == "header x-tenant is not 'acme'");
  CHECK(d.trace[3].why_not == "has_tools is false");
  CHECK(d.trace.back().matched);
  CHECK(d.trace.back().why_not.empty());
}

TEST_CASE("tier and score conditions follow the classification", "[routing]") {
  // Pin the tiers so that any score lands in `complex`, and then in `simple`.
  std::string all_complex = kConfig;
  all_complex.replace(all_complex.find("{simple: 0.0, medium: 0.35, complex: 0.6}"), 41,
                      "{simple: 0.0, medium: 0.0001, complex: 0.0002}");
  Env env(all_complex);
  Decision d = env.Decide(Body("Prove that there are infinitely many primes, step by step."));
  CHECK(d.classification.tier == "complex");
  CHECK((d.rule == "hard" || d.rule == "by-tier"));
  CHECK(d.target()->backend == "large");
}

TEST_CASE("a candidate whose context window cannot hold the prompt is skipped, and says so",
          "[routing]") {
  Env env;
  Decision d = env.Decide(Body("short", R"("max_tokens":1000)"));
  REQUIRE(d.candidates.size() == 2);
  CHECK(d.candidates[0].backend == "small");
  CHECK(d.candidates[0].skipped);
  CHECK(d.candidates[0].reason.find("context window") != std::string::npos);
  CHECK(d.target()->backend == "large");
  // Nothing fits: a clear refusal, not a silent pick.
  Decision none = env.Decide(Body("short", R"("max_tokens":200000)"));
  CHECK(none.kind == Decision::Kind::kNoFit);
}

TEST_CASE("budget skips downgrade to a cheaper candidate, or refuse when nothing fits",
          "[routing]") {
  Env env;
  std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],"max_tokens":100)";
  // tools -> [large, small]; large costs ~10x small.
  Decision free = env.Decide(Body("hi", tools));
  double large = free.candidates[0].estimated_cost_usd,
         small = free.candidates[1].estimated_cost_usd;
  CHECK(large > small);
  routing::BudgetView cap;
  cap.request_cap_usd = (large + small) / 2;
  Decision d = env.Decide(Body("hi", tools), "", {}, cap);
  CHECK(d.kind == Decision::Kind::kRouted);
  CHECK(d.candidates[0].skipped);
  CHECK(d.candidates[0].reason.find("request cap") != std::string::npos);
  CHECK(d.target()->backend == "small");
  routing::BudgetView day;
  day.day_remaining_usd = small / 2;
  Decision broke = env.Decide(Body("hi", tools), "team-a", {}, day);
  CHECK(broke.kind == Decision::Kind::kBudgetRejected);
  CHECK(broke.budget_code == "daily_budget");
  CHECK(broke.message.find("daily budget") != std::string::npos);
}

TEST_CASE("on_exceed: reject refuses instead of downgrading", "[routing]") {
  std::string yaml = kConfig;
  yaml.replace(yaml.find("budgets:\n"), 9, "budgets:\n  on_exceed: reject\n");
  Env env(yaml);
  std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],"max_tokens":100)";
  Decision free = env.Decide(Body("hi", tools));
  routing::BudgetView cap;
  cap.request_cap_usd =
      (free.candidates[0].estimated_cost_usd + free.candidates[1].estimated_cost_usd) / 2;
  Decision d = env.Decide(Body("hi", tools), "", {}, cap);
  CHECK(d.kind == Decision::Kind::kBudgetRejected);
  CHECK(d.budget_code == "request_cap");
}

TEST_CASE("explicit models, unknown models and estimates", "[routing]") {
  Env env;
  Decision e = env.Decide(Body("hi", "", "large-model"));
  CHECK(e.kind == Decision::Kind::kExplicit);
  CHECK(e.rule == "explicit");
  CHECK_FALSE(e.classified);
  CHECK(e.target()->backend == "large");
  CHECK(env.Decide(Body("hi", "", "small")).target()->backend == "small");
  CHECK(env.Decide(Body("hi", "", "gpt-9")).kind == Decision::Kind::kNotFound);
  // Output estimate: max_tokens x n, else default_output_tokens.
  CHECK(env.Decide(Body("hi", R"("max_tokens":100,"n":3)")).output_tokens == 300);
  CHECK(env.Decide(Body("hi")).output_tokens == 512);
  Decision d = env.Decide(Body("hi", R"("max_tokens":100)"));
  double want = (d.input_tokens * 1.0 + 100 * 2.0) / 1e6;
  CHECK(d.candidates[0].estimated_cost_usd == Approx(want));
}

TEST_CASE("explicit models can be turned off", "[routing]") {
  std::string yaml = kConfig;
  yaml.replace(yaml.find("  virtual_models"), 0, "  allow_explicit_models: false\n");
  Env env(yaml);
  CHECK(env.Decide(Body("hi", "", "large-model")).kind == Decision::Kind::kNotFound);
}
