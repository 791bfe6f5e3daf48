// Routing of the agent APIs: backends[].api skips, the kNoApi decision, and
// previous_response_id affinity putting the remembered backend first.
#include <catch2/catch.hpp>

#include "config/loader.h"
#include "openai/request.h"
#include "routing/decision_json.h"
#include "routing/request_facts.h"
#include "routing/router.h"

using namespace signalbox;
using routing::Decision;

namespace {

const char* kConfig = R"(
backends:
  - name: small
    url: http://127.0.0.1:1/v1
    model: small-model
    api: [chat, responses, messages]
  - name: large
    url: http://127.0.0.1:2/v1
    model: large-model
  - name: claude
    url: http://127.0.0.1:3/v1
    model: claude-x
    auth: x-api-key
    api: messages
router:
  rules:
    - name: default
      route: [large, small, claude]
)";

struct Env {
  std::shared_ptr<const routing::Router> router;
  Env() {
    auto r = LoadConfigText(kConfig, "t.yaml", [](const std::string&) { return std::nullopt; });
    for (const auto& e : r.errors) INFO(e);
    REQUIRE(r.config);
    CHECK(r.config->backends[2].auth == AuthMode::kXApiKey);
    router = routing::Router::Build(*r.config);
  }
  Decision Decide(Endpoint ep, const std::string& body, std::string_view affinity = "") {
    ParsedRequest req;
    auto err = ParseRequest(ep, body, &req);
    REQUIRE_FALSE(err);
    auto f = routing::FactsFromRequest(req, "", nullptr);
    f.affinity_backend = affinity;
    return router->Decide(f, {});
  }
};

const char* kMessagesBody =
    R"({"model":"auto","max_tokens":50,"messages":[{"role":"user","content":"hi"}]})";
const char* kResponsesBody = R"({"model":"auto","input":"hi"})";

}  // namespace

TEST_CASE("candidates that do not serve the request's API are skipped with a visible reason",
          "[routing][agent]") {
  Env env;
  Decision m = env.Decide(Endpoint::kMessages, kMessagesBody);
  REQUIRE(m.kind == Decision::Kind::kRouted);
  REQUIRE(m.candidates.size() == 3);
  CHECK(m.candidates[0].skipped);
  CHECK(m.candidates[0].skip_code == "api");
  CHECK(m.candidates[0].reason == "does not serve the messages API (backends[].api)");
  CHECK(m.target()->backend == "small");
  CHECK_FALSE(m.candidates[2].skipped);  // claude serves messages
  auto j = nlohmann::json::parse(routing::DecisionJson(m, "auto", std::nullopt));
  CHECK(j["api"] == "messages");
  CHECK(j["candidates"][0]["reason"] == "does not serve the messages API (backends[].api)");

  Decision r = env.Decide(Endpoint::kResponses, kResponsesBody);
  CHECK(r.target()->backend == "small");
  CHECK(r.candidates[2].skipped);  // claude serves only messages

  Decision c = env.Decide(Endpoint::kChat,
                          R"({"model":"auto","messages":[{"role":"user","content":"hi"}]})");
  CHECK(c.target()->backend == "large");
}

TEST_CASE("a request no candidate can serve is kNoApi, not a budget or context refusal",
          "[routing][agent]") {
  auto r = LoadConfigText(R"(
backends:
  - {name: a, url: "http://127.0.0.1:1/v1", model: m}
router:
  rules:
    - {name: default, route: [a]}
)",
                          "t.yaml", [](const std::string&) { return std::nullopt; });
  REQUIRE(r.config);
  auto router = routing::Router::Build(*r.config);
  ParsedRequest req;
  REQUIRE_FALSE(ParseRequest(Endpoint::kMessages, kMessagesBody, &req));
  Decision d = router->Decide(routing::FactsFromRequest(req, "", nullptr), {});
  CHECK(d.kind == Decision::Kind::kNoApi);
  CHECK(d.message.find("messages") != std::string::npos);
  CHECK(d.target() == nullptr);
}

TEST_CASE("previous_response_id affinity puts the remembered backend first, else routes normally",
          "[routing][agent]") {
  Env env;
  Decision plain = env.Decide(Endpoint::kResponses, kResponsesBody);
  CHECK(plain.affinity.empty());
  Decision aff = env.Decide(Endpoint::kResponses, kResponsesBody, "large");
  CHECK(aff.affinity == "large");
  REQUIRE(aff.candidates.size() == 3);
  CHECK(aff.candidates[0].backend == "large");
  CHECK(aff.candidates[0].skipped);  // large does not serve responses: skipped even so
  CHECK(aff.target()->backend == "small");
  Decision gone = env.Decide(Endpoint::kResponses, kResponsesBody, "removed-backend");
  CHECK(gone.affinity.empty());
  CHECK(gone.target()->backend == "small");
  // The remembered backend goes first even when the rule lists it later.
  Decision late = env.Decide(Endpoint::kMessages, kMessagesBody, "claude");
  CHECK(late.target()->backend == "claude");
  CHECK(late.rule == "default");
}

TEST_CASE("cost of reported usage: cache reads and writes at their own prices when set",
          "[routing][agent]") {
  PriceConfig p;
  p.input_per_mtok = 2;
  p.output_per_mtok = 10;
  // Without cache prices every input token is billed at the input price.
  CHECK(routing::UsageCost(p, 1'000'000, 400'000, 100'000, 0) == Approx(2.0));
  p.cached_input_per_mtok = 0.5;
  p.cache_write_per_mtok = 2.5;
  // 500k plain * 2 + 400k cached * 0.5 + 100k written * 2.5 + 1M out * 10
  CHECK(routing::UsageCost(p, 1'000'000, 400'000, 100'000, 1'000'000) ==
        Approx((500'000 * 2.0 + 400'000 * 0.5 + 100'000 * 2.5 + 1'000'000 * 10.0) / 1e6));
  // Broken counts never make a negative plain share.
  CHECK(routing::UsageCost(p, 10, 50, 50, 0) >= 0);
}
