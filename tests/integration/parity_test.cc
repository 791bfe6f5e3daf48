// Live traffic, POST /v1/route, `explain`, `score`, `replay` and `calibrate` call the same
// decision function: a corpus fed through all of them gets identical decisions.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "integration/agent_util.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"

using namespace signalbox::testing;
using nlohmann::json;

namespace {

const char* kRules = R"(    - name: tenant-acme
      when: {header: {x-tenant: acme}}
      route: [large, small]
    - name: key-b
      when: {key: team-b}
      route: [large]
    - name: tools
      when: {has_tools: true}
      route: [large, small]
    - name: images
      when: {has_images: true}
      route: [large, small]
    - name: hard
      when: {tier: complex}
      route: [large, small]
    - name: middle
      when: {score: {gte: 0.35, lt: 0.6}}
      route: [small, large]
    - name: default
      route: [small, large]
)";

struct Line {
  json raw;         // the corpus line
  std::string key;  // key id or ""
  std::map<std::string, std::string> headers;
};

std::vector<Line> Corpus() {
  std::vector<Line> out;
  std::ifstream in(std::string(SIGNALBOX_SOURCE_DIR) +
                   "/tests/classify/testdata/mixed_workload.jsonl");
  std::string s;
  while (std::getline(in, s)) {
    if (s.empty()) continue;
    json j = json::parse(s);
    json line = {{"id", j["id"]}};
    for (const char* k : {"prompt", "messages", "tools"}) {
      if (j.contains(k)) line[k] = j[k];
    }
    out.push_back({line, "", {}});
  }
  // Requests whose routing depends on more than the text.
  json msgs = json::array(
      {{{"role", "system"}, {"content", "You are a careful engineer."}},
       {{"role", "user"}, {"content", "Refactor this function and explain the trade-offs."}}});
  out.push_back(
      {{{"id", "tools"},
        {"messages", msgs},
        {"tools", json::array({{{"type", "function"}, {"function", {{"name", "run"}}}}})}},
       "",
       {}});
  out.push_back(
      {{{"id", "image"},
        {"messages",
         json::array(
             {{{"role", "user"},
               {"content",
                json::array({{{"type", "text"}, {"text", "What is in this picture?"}},
                             {{"type", "image_url"},
                              {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}})}}})}},
       "",
       {}});
  out.push_back({{{"id", "acme"}, {"prompt", "hello"}, {"headers", {{"x-tenant", "acme"}}}},
                 "",
                 {{"x-tenant", "acme"}}});
  out.push_back({{{"id", "teamb"}, {"prompt", "hello"}, {"key", "team-b"}}, "team-b", {}});
  out.push_back(
      {{{"id", "multi"},
        {"messages",
         json::array({{{"role", "user"}, {"content", "Write a haiku."}},
                      {{"role", "assistant"}, {"content", "Autumn moonlight..."}},
                      {{"role", "user"},
                       {"content", "Now prove the Cauchy-Schwarz inequality step by step."}}})}},
       "",
       {}});
  for (auto& l : out) {
    if (l.key.empty()) l.key = "team-a";  // keys are configured: every request has one
  }
  return out;
}

std::string ChatBodyOf(const Line& l) {
  json b = {{"model", "auto"}};
  if (l.raw.contains("messages")) {
    b["messages"] = l.raw["messages"];
  } else {
    b["messages"] = json::array({{{"role", "user"}, {"content", l.raw["prompt"]}}});
  }
  if (l.raw.contains("tools")) b["tools"] = l.raw["tools"];
  return b.dump();
}

}  // namespace

TEST_CASE("live traffic, /v1/route, explain, score, replay and calibrate agree on every decision",
          "[integration][parity]") {
  auto s = StartMock({"--model", "small-model"});
  auto l = StartMock({"--model", "large-model"});
  REQUIRE(s.ok());
  REQUIRE(l.ok());
  std::string yaml = TwoBackendConfig(*s, *l, "", "", kRules);
  yaml.replace(yaml.find("budgets:\n"), 9,
               "budgets:\n  keys:\n    - {id: team-a, key: \"key-a-0123456789\"}\n"
               "    - {id: team-b, key: \"key-b-0123456789\"}\n");
  GatewayOptions opts;
  opts.config_yaml = yaml;
  auto gw = StartGateway(opts);
  REQUIRE(gw.ok());
  std::map<std::string, std::string> token = {{"team-a", "key-a-0123456789"},
                                              {"team-b", "key-b-0123456789"}};
  std::vector<Line> corpus = Corpus();
  std::string dir = gw->dir;
  std::string corpus_file = dir + "/corpus.jsonl";
  {
    std::ofstream f(corpus_file);
    for (const auto& line : corpus) {
      json j = line.raw;
      j["key"] = line.key;
      f << j.dump() << "\n";
    }
  }
  std::string bin = SIGNALBOX_BIN;
  std::string cfg = " --config " + gw->config_path;

  // score: one line per input, in order.
  std::vector<Decision> by_score;
  {
    std::string out = RunCli(bin + " score" + cfg + " --input " + corpus_file);
    std::istringstream ss(out);
    std::string row;
    while (std::getline(ss, row)) {
      json j = json::parse(row);
      by_score.push_back({j["backend"], j["rule"], j["tier"], j["score"]});
    }
  }
  REQUIRE(by_score.size() == corpus.size());

  auto cli = gw->Client();
  std::map<std::string, int> tiers;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const Line& line = corpus[i];
    INFO("line " << line.raw.dump());
    httplib::Headers h = {{"Authorization", "Bearer " + token[line.key]}};
    for (const auto& [k, v] : line.headers) h.emplace(k, v);
    std::string body = ChatBodyOf(line);

    auto route = cli->Post("/v1/route", h, body, "application/json");
    REQUIRE(route);
    REQUIRE(route->status == 200);
    json r = json::parse(route->body);
    Decision by_route{r["backend"], r["rule"], r["tier"], r["score"]};
    CHECK(r["budget"]["key"] == line.key);

    auto live = cli->Post("/v1/chat/completions", h, body, "application/json");
    REQUIRE(live);
    REQUIRE(live->status == 200);
    Decision by_live{live->get_header_value("x-signalbox-backend"),
                     live->get_header_value("x-signalbox-rule"),
                     live->get_header_value("x-signalbox-tier"),
                     std::stod(live->get_header_value("x-signalbox-score"))};

    std::string body_file = dir + "/body.json";
    std::ofstream(body_file) << body;
    std::string hdr_args;
    for (const auto& [k, v] : line.headers) hdr_args += " --header '" + k + ":" + v + "'";
    json e = json::parse(
        RunCli(bin + " explain" + cfg + " --key " + line.key + hdr_args + " < " + body_file));
    Decision by_explain{e["backend"], e["rule"], e["tier"], e["score"]};

    CHECK(by_live == by_score[i]);
    CHECK(by_route == by_score[i]);
    CHECK(by_explain == by_score[i]);
    tiers[by_score[i].tier]++;
  }

  // replay reports the same share per tier.
  std::string rep = RunCli(bin + " replay" + cfg + " --input " + corpus_file);
  for (const auto& [tier, n] : tiers) {
    INFO(rep);
    CHECK(rep.find("tier " + tier) != std::string::npos);
    CHECK(rep.find("(" + std::to_string(n) + ")") != std::string::npos);
  }
  // calibrate: the bound that sends 25% to `complex` is the quantile of the same scores.
  std::vector<double> scores;
  for (const auto& d : by_score) scores.push_back(d.score);
  std::sort(scores.rbegin(), scores.rend());
  size_t k = static_cast<size_t>(std::ceil(0.25 * scores.size()));
  std::string cal =
      RunCli(bin + " calibrate" + cfg + " --input " + corpus_file + " --strong-share 0.25");
  std::string want = "threshold: " + fmt::format("{}", scores[k - 1]);
  CHECK(cal.find(want) != std::string::npos);
}
