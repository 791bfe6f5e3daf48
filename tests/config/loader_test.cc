#include "config/loader.h"

#include <catch2/catch.hpp>

#include "config/env_expand.h"
#include "config/units.h"

using namespace signalbox;
using namespace std::chrono_literals;

namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const char* kMinimal = R"(
backends:
  - name: small
    url: http://127.0.0.1:8001/v1
    model: m
router:
  rules:
    - name: default
      route: [small]
)";

}  // namespace

TEST_CASE("durations and sizes parse as documented", "[config]") {
  CHECK(ParseDuration("0") == 0ms);
  CHECK(ParseDuration("500ms") == 500ms);
  CHECK(ParseDuration("2s") == 2000ms);
  CHECK(ParseDuration("1.5s") == 1500ms);
  CHECK(ParseDuration("1m30s") == 90'000ms);
  CHECK(ParseDuration("1h") == 3'600'000ms);
  CHECK_FALSE(ParseDuration("5"));
  CHECK_FALSE(ParseDuration("-1s"));
  CHECK_FALSE(ParseDuration("2 weeks"));
  CHECK_FALSE(ParseDuration(""));
  CHECK(ParseSize("1024") == 1024u);
  CHECK(ParseSize("8MiB") == 8u << 20);
  CHECK(ParseSize("64KiB") == 64u << 10);
  CHECK(ParseSize("1GB") == 1'000'000'000u);
  CHECK_FALSE(ParseSize("8 potatoes"));
  CHECK_FALSE(ParseSize("-1"));
  CHECK_FALSE(ParseSize("1.5"));
}

TEST_CASE("${VAR} expansion inside one value", "[config]") {
  auto env = FakeEnv({{"A", "alpha"}, {"EMPTY", ""}});
  CHECK(*ExpandEnv("x-${A}-y", env) == "x-alpha-y");
  CHECK(*ExpandEnv("${MISSING:-dflt}", env) == "dflt");
  CHECK(*ExpandEnv("${EMPTY:-dflt}", env) == "dflt");
  CHECK(*ExpandEnv("${EMPTY-dflt}", env) == "");
  CHECK(*ExpandEnv("${MISSING:-}", env) == "");
  CHECK(*ExpandEnv("cost $$5 and $PATH", env) == "cost $5 and $PATH");
  auto unset = ExpandEnv("${MISSING}", env);
  REQUIRE_FALSE(unset.ok());
  CHECK(unset.status().message().find("MISSING") != std::string::npos);
  CHECK_FALSE(ExpandEnv("${A", env).ok());
  CHECK_FALSE(ExpandEnv("${1BAD}", env).ok());
  // A value cannot inject YAML: the expansion is a plain string.
  auto res = LoadConfigText(R"(
backends:
  - name: small
    url: http://127.0.0.1:8001/v1
    model: ${INJECT}
router:
  rules:
    - name: default
      route: [small]
)",
                            "t.yaml", FakeEnv({{"INJECT", "m\n    retries: 9"}}));
  REQUIRE(res.config);
  CHECK(res.config->backends[0].model == "m\n    retries: 9");
  CHECK(res.config->backends[0].retries == 0);
}

TEST_CASE("defaults apply when keys are absent", "[config]") {
  auto res = LoadConfigText(kMinimal, "t.yaml", FakeEnv({}));
  REQUIRE(res.config);
  const Config& c = *res.config;
  CHECK(c.server.listen == "0.0.0.0:8080");
  CHECK(c.server.max_body_bytes == 8u << 20);
  CHECK(c.server.max_streams == 2048);
  CHECK(c.server.max_headers == 100);
  CHECK(c.server.timeouts.drain == 20s);
  CHECK(c.backends[0].timeouts.connect == 2s);
  CHECK(c.backends[0].timeouts.first_byte == 30s);
  CHECK(c.backends[0].circuit.failures == 5);
  CHECK(c.backends[0].auth == AuthMode::kBearer);
  CHECK(c.backends[0].stream_usage);
  CHECK(c.backends[0].base_path == "/v1");
  CHECK(c.router.virtual_models == std::vector<std::string>{"auto"});
  CHECK(c.router.allow_explicit_models);
  CHECK(c.classifier.tiers.size() == 3);
  CHECK_FALSE(c.has_budgets);
  CHECK(c.content_hash.size() == 64);
}

TEST_CASE("backend URLs are split into scheme, host, port and base path", "[config]") {
  struct Case {
    std::string url, scheme, host;
    int port;
    std::string path;
  };
  std::vector<Case> cases = {
      {"http://127.0.0.1:8001/v1", "http", "127.0.0.1", 8001, "/v1"},
      {"https://api.openai.com/v1/", "https", "api.openai.com", 443, "/v1"},
      {"http://[::1]:9000", "http", "::1", 9000, ""},
      {"HTTP://host", "http", "host", 80, ""},
  };
  for (const auto& c : cases) {
    std::string text = std::string(kMinimal);
    text.replace(text.find("http://127.0.0.1:8001/v1"), 24, c.url);
    auto res = LoadConfigText(text, "t.yaml", FakeEnv({}));
    INFO(c.url);
    REQUIRE(res.config);
    const auto& b = res.config->backends[0];
    CHECK(b.scheme == c.scheme);
    CHECK(b.host == c.host);
    CHECK(b.port == c.port);
    CHECK(b.base_path == c.path);
  }
}

TEST_CASE("keys may be given as sha256 or literal, errors never echo a key", "[config]") {
  auto res = LoadConfigText(R"(
backends:
  - name: small
    url: http://127.0.0.1:8001/v1
    model: m
budgets:
  on_exceed: reject
  keys:
    - id: a
      key: ${KEY_A}
      daily_usd: 5
    - id: b
      key_sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
    - id: c
      key: short
router:
  rules:
    - name: default
      route: [small]
)",
                            "t.yaml", FakeEnv({{"KEY_A", "sk-team-a-0123456789"}}));
  REQUIRE_FALSE(res.config);
  REQUIRE(res.errors.size() == 1);
  CHECK(res.errors[0].find("budgets.keys[2].key: must be at least 8") != std::string::npos);
  CHECK(res.errors[0].find("short") == std::string::npos);
}

TEST_CASE("unreachable rules and a missing default rule are warnings", "[config]") {
  auto res = LoadConfigText(R"(
backends:
  - name: small
    url: http://127.0.0.1:8001/v1
    model: m
router:
  rules:
    - name: default
      route: [small]
    - name: never
      when: {stream: true}
      route: [small]
)",
                            "t.yaml", FakeEnv({}));
  REQUIRE(res.config);
  REQUIRE(res.warnings.size() == 1);
  CHECK(res.warnings[0].find("rule 'never' can never match") != std::string::npos);
}

TEST_CASE("virtual model names may not shadow backends", "[config]") {
  auto res = LoadConfigText(R"(
backends:
  - name: small
    url: http://127.0.0.1:8001/v1
    model: auto
router:
  rules:
    - name: default
      route: [small]
)",
                            "t.yaml", FakeEnv({}));
  REQUIRE_FALSE(res.config);
  CHECK(res.errors[0].find("ambiguous") != std::string::npos);
}
