// The default tiers on a small hand-written mix of real-looking traffic
// (testdata/mixed_workload.jsonl): greetings and lookups, everyday asks, hard asks,
// multi-turn chat and coding-agent turns with reminders and tool output.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "classify/classifier.h"
#include "classify/classify_test_util.h"

namespace signalbox::classify {
namespace {

using testing::DefaultClassifier;
using testing::InputBuilder;

Role RoleOf(const std::string& r) {
  if (r == "system") return Role::kSystem;
  if (r == "user") return Role::kUser;
  if (r == "assistant") return Role::kAssistant;
  if (r == "tool") return Role::kTool;
  return Role::kOther;
}

// A chat-completions-like line: {"prompt": "..."} or {"messages": [...], "tools": [...]}.
void Build(const nlohmann::json& j, InputBuilder* b) {
  if (j.contains("prompt")) {
    b->User(j["prompt"].get<std::string>());
    return;
  }
  for (const auto& m : j["messages"]) {
    const Role role = RoleOf(m["role"].get<std::string>());
    if (m["content"].is_string()) {
      b->Message(role, m["content"].get<std::string>());
      continue;
    }
    std::vector<std::string> parts;
    for (const auto& p : m["content"]) parts.push_back(p["text"].get<std::string>());
    b->MultiPart(role, parts);
  }
  if (j.contains("tools")) b->Tools(static_cast<int>(j["tools"].size()));
}

TEST_CASE("Default tiers send a quarter of a mixed workload to complex", "[classify]") {
  std::ifstream in(SIGNALBOX_SOURCE_DIR "/tests/classify/testdata/mixed_workload.jsonl");
  REQUIRE(in.good());
  std::map<std::string, int> tiers;
  int total = 0;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    InputBuilder b;
    Build(j, &b);
    const Classification r = DefaultClassifier()->Classify(b.input());
    const std::string kind = j["kind"].get<std::string>();
    INFO(j["id"].get<std::string>() << " (" << kind << ") score " << r.score);
    if (kind == "lookup") CHECK(r.tier == "simple");
    if (kind == "hard") CHECK(r.tier != "simple");
    ++tiers[r.tier];
    ++total;
  }
  REQUIRE(total >= 40);
  const double complex_share = static_cast<double>(tiers["complex"]) / total;
  INFO("simple " << tiers["simple"] << ", medium " << tiers["medium"] << ", complex "
                 << tiers["complex"]);
  CHECK(complex_share >= 0.20);
  CHECK(complex_share <= 0.35);
  CHECK(tiers["medium"] > 0);
  CHECK(tiers["simple"] > 0);
}

}  // namespace
}  // namespace signalbox::classify
