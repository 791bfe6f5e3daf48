// backends[].deployments, balance and affinity: parsing, defaults, the implicit
// deployment of a single-url backend, the effective per-deployment config, and errors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "routing/decision_json.h"
#include "upstream/backends.h"

using namespace signalbox;

namespace {

EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::string WithBackend(const std::string& backend_lines) {
  return "backends:\n  - name: pool\n    model: m\n" + backend_lines +
         "router:\n  rules:\n    - name: default\n      route: [pool]\n";
}

std::string JoinErrors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e + "\n";
  return out;
}

}  // namespace

TEST_CASE("a backend with one url has one implicit deployment named 0", "[config][deployments]") {
  auto res = LoadConfigText(WithBackend("    url: http://127.0.0.1:8001/v1\n"), "t.yaml", NoEnv());
  INFO(JoinErrors(res));
  REQUIRE(res.config);
  const BackendConfig& b = res.config->backends[0];
  REQUIRE(b.deployments.size() == 1);
  CHECK_FALSE(b.listed_deployments);
  CHECK(b.deployments[0].name == "0");
  CHECK(b.deployments[0].weight == 1);
  CHECK(b.deployments[0].port == 8001);
  CHECK(b.deployments[0].key == "http://127.0.0.1:8001/v1");
  CHECK(b.balance == BalancePolicy::kLeastInflight);
  CHECK(b.affinity_header.empty());
}

TEST_CASE("deployments, balance and affinity parse", "[config][deployments]") {
  auto res = LoadConfigText(WithBackend(R"(    api_key: backend-key
    headers: {x-region: default, x-team: a}
    balance: round_robin
    affinity: header:X-Session-Id
    deployments:
      - {url: http://vllm-0:8000/v1, weight: 1}
      - {name: west, url: https://vllm-1:8443/v1/, weight: 2, api_key: dep-key,
         headers: {X-Region: west}}
      - {url: http://vllm-0:8000/v1}
)"),
                            "t.yaml", NoEnv());
  INFO(JoinErrors(res));
  REQUIRE(res.config);
  const BackendConfig& b = res.config->backends[0];
  CHECK(b.listed_deployments);
  CHECK(b.balance == BalancePolicy::kRoundRobin);
  CHECK(b.affinity_header == "x-session-id");
  REQUIRE(b.deployments.size() == 3);
  CHECK(b.deployments[0].name == "0");
  CHECK(b.deployments[1].name == "west");
  CHECK(b.deployments[2].name == "2");
  CHECK(b.deployments[1].weight == 2);
  CHECK(b.deployments[1].scheme == "https");
  CHECK(b.deployments[1].port == 8443);
  CHECK(b.deployments[1].base_path == "/v1");
  // The same url twice (e.g. two API keys on one endpoint) stays two deployments.
  CHECK(b.deployments[0].key == "http://vllm-0:8000/v1");
  CHECK(b.deployments[2].key == "http://vllm-0:8000/v1#1");

  SECTION("the effective config: the deployment's url, key and headers over the backend's") {
    BackendConfig west = EffectiveConfig(b, b.deployments[1]);
    CHECK(west.host == "vllm-1");
    CHECK(west.port == 8443);
    CHECK(west.api_key == "dep-key");
    std::map<std::string, std::string> h(west.headers.begin(), west.headers.end());
    CHECK(h.size() == 2);
    CHECK(h["X-Region"] == "west");  // replaces x-region (case-insensitive)
    CHECK(h["x-team"] == "a");
    CHECK(west.deployments.empty());
    BackendConfig first = EffectiveConfig(b, b.deployments[0]);
    CHECK(first.api_key == "backend-key");  // none of its own
    CHECK(first.host == "vllm-0");
  }
}

TEST_CASE("deployment errors name their path", "[config][deployments]") {
  struct Case {
    std::string lines, want;
  };
  std::vector<Case> cases = {
      {"    url: http://a/v1\n    deployments: [{url: http://b/v1}]\n",
       "backends[0].deployments: set either url or deployments, not both"},
      {"    deployments: []\n", "backends[0].deployments: list at least one deployment"},
      {"    deployments: [{weight: 2}]\n", "backends[0].deployments[0].url: is required"},
      {"    deployments: [{url: ftp://b/v1}]\n", "backends[0].deployments[0].url: scheme must be"},
      {"    deployments: [{url: http://b/v1, weight: 0}]\n", "backends[0].deployments[0].weight"},
      {"    deployments: [{url: http://b/v1, name: 'a b'}]\n",
       "backends[0].deployments[0].name: must be"},
      {"    deployments: [{url: http://b/v1}, {url: http://c/v1, name: '0'}]\n",
       "backends[0].deployments[1].name: duplicate deployment name '0'"},
      {"    deployments: [{url: http://b/v1, region: x}]\n", "backends[0].deployments[0].region"},
      {"    url: http://a/v1\n    balance: fastest\n", "backends[0].balance: must be"},
      {"    url: http://a/v1\n    affinity: cookie:x\n", "backends[0].affinity: must be header:"},
      {"    url: http://a/v1\n    affinity: 'header:'\n", "backends[0].affinity: must be header:"},
      {"    model2: x\n", "backends[0].url: is required"},
  };
  for (const auto& c : cases) {
    auto res = LoadConfigText(WithBackend(c.lines), "t.yaml", NoEnv());
    INFO(c.lines << "\n" << JoinErrors(res));
    CHECK_FALSE(res.config);
    bool found = false;
    for (const auto& e : res.errors) found |= e.find(c.want) != std::string::npos;
    CHECK(found);
  }
}

TEST_CASE("explain lists each candidate's deployments from the config", "[config][deployments]") {
  auto res = LoadConfigText(WithBackend("    deployments:\n      - {url: http://a/v1, weight: 3}\n"
                                        "      - {name: b, url: http://b/v1}\n"),
                            "t.yaml", NoEnv());
  REQUIRE(res.config);
  routing::Decision d;
  d.kind = routing::Decision::Kind::kRouted;
  routing::Candidate c;
  c.backend = "pool";
  c.backend_index = 0;
  d.candidates.push_back(c);
  auto j = nlohmann::json::parse(routing::DecisionJson(d, "auto", std::nullopt, false, std::nullopt,
                                                       routing::ConfigDeployments(*res.config)));
  const auto& deps = j["candidates"][0]["deployments"];
  REQUIRE(deps.size() == 2);
  CHECK(deps[0] == nlohmann::json({{"name", "0"}, {"weight", 3}, {"eligible", true}}));
  CHECK(deps[1]["name"] == "b");
  // Without a lookup (the SPEC's fields only) there is no deployments key.
  auto plain = nlohmann::json::parse(routing::DecisionJson(d, "auto", std::nullopt));
  CHECK_FALSE(plain["candidates"][0].contains("deployments"));
}
