// Real Claude Code and Codex bodies (tests/testdata/agent_bodies) through every entry point
// of the one decision function: live /v1/messages and /v1/responses, POST /v1/route,
// `explain`, `score` and `replay` agree; and with the shipped rules a trivial ask goes to
// small, a code review to large.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "integration/agent_util.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;

struct Body {
  const char* file;
  const char* path;
  const char* want;  // backend under the shipped-like rules
};

const Body kBodies[] = {
    {"claude_code_trivial.json", "/v1/messages", "small"},
    {"claude_code_review.json", "/v1/messages", "large"},
    {"codex_trivial.json", "/v1/responses", "small"},
    {"codex_review.json", "/v1/responses", "large"},
    {"codex_trivial_fallback_model.json", "/v1/responses", "small"},
};

// The body as the agent sends it with model `auto` (Claude Code then asks for 32000
// output tokens, not its own model's 128000).
std::string AgentBody(const Body& b) {
  std::ifstream in(std::string(SIGNALBOX_SOURCE_DIR) + "/tests/testdata/agent_bodies/" + b.file);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str());
  j["model"] = "auto";
  if (j.contains("max_tokens")) j["max_tokens"] = 32000;
  return j.dump();
}

Decision FromJson(const json& j) { return {j["backend"], j["rule"], j["tier"], j["score"]}; }

}  // namespace

TEST_CASE(
    "agent bodies: live traffic, /v1/route, explain, score and replay agree, trivial asks "
    "go to small and code reviews to large",
    "[integration][agent][parity]") {
  auto small = MustStartMock({"--model", "small-model"});
  auto large = MustStartMock({"--model", "large-model"});
  // The shipped config's routing: only the classifier's complex tier goes to large.
  std::string yaml = fmt::format(
      "server:\n  listen: 127.0.0.1:0\nbackends:\n"
      "  - {{name: small, url: \"{}/v1\", model: small-model, api: [chat, responses, messages],"
      " context_window: 131072}}\n"
      "  - {{name: large, url: \"{}/v1\", model: large-model, api: [chat, responses, messages],"
      " context_window: 128000}}\n"
      "budgets:\n  ledger_path: {{STATE}}/ledger.db\n"
      "router:\n  rules:\n    - {{name: complex, when: {{tier: complex}}, route: [large, small]}}\n"
      "    - {{name: default, route: [small, large]}}\n",
      small.BaseUrl(), large.BaseUrl());
  auto gw = MustStartGateway(yaml);
  const std::string bin = SIGNALBOX_BIN;
  const std::string cfg = " --config " + gw.config_path;
  const std::string lines_file = gw.dir + "/agent-lines.jsonl";
  {
    std::ofstream f(lines_file);
    for (const auto& b : kBodies)
      f << json{{"id", b.file}, {"body", json::parse(AgentBody(b))}}.dump() << "\n";
  }
  std::vector<Decision> by_score;
  {
    std::istringstream ss(RunCli(bin + " score" + cfg + " --input " + lines_file));
    std::string row;
    while (std::getline(ss, row)) by_score.push_back(FromJson(json::parse(row)));
  }
  REQUIRE(by_score.size() == std::size(kBodies));
  auto cli = gw.Client();
  std::map<std::string, int> per_backend;
  for (size_t i = 0; i < std::size(kBodies); ++i) {
    const Body& b = kBodies[i];
    INFO(b.file);
    std::string body = AgentBody(b);
    auto route = cli->Post("/v1/route", body, "application/json");
    REQUIRE(route);
    REQUIRE(route->status == 200);
    json r = json::parse(route->body);
    CHECK(r["api"] == (std::string(b.path) == "/v1/messages" ? "messages" : "responses"));
    auto live = cli->Post(b.path, body, "application/json");
    REQUIRE(live);
    INFO(live->body.substr(0, 500));
    REQUIRE(live->status == 200);
    Decision by_live{live->get_header_value("x-signalbox-backend"),
                     live->get_header_value("x-signalbox-rule"),
                     live->get_header_value("x-signalbox-tier"),
                     std::stod(live->get_header_value("x-signalbox-score"))};
    std::string body_file = gw.dir + "/agent-body.json";
    std::ofstream(body_file) << body;
    Decision by_explain = FromJson(json::parse(RunCli(bin + " explain" + cfg + " < " + body_file)));
    CHECK(by_live == by_score[i]);
    CHECK(FromJson(r) == by_score[i]);
    CHECK(by_explain == by_score[i]);
    CHECK(by_live.backend == b.want);
    per_backend[by_live.backend]++;
  }
  std::string rep = RunCli(bin + " replay" + cfg + " --input " + lines_file);
  INFO(rep);
  for (const auto& [backend, n] : per_backend) {
    CHECK(rep.find(backend) != std::string::npos);
  }
}

}  // namespace signalbox::testing
