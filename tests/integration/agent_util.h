// Shared setup of the agent-API integration tests: two mocks and a gateway whose backends
// list the APIs they serve, plus readers for Anthropic/Responses bodies and event streams.
#pragma once

#include <fmt/format.h>
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/resilience_util.h"
#include "integration/sse_client.h"

namespace signalbox::testing {

using namespace resil;  // MustStartMock, NextId, AccessLine, ErrorOf, Counter, ...

// The mock's default answer (16 tokens).
inline const std::string kMockText =
    "tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 tok12 tok13 tok14 tok15 tok16";

// Mocks `small` and `large` behind a gateway. Both cost $1/$2 per million input/output
// tokens, $0.5 per cached and $1.25 per cache-written million. Rules: header `x-pick:
// large` routes [large, small], everything else [small, large]. `key` non-empty: one key.
struct AgentSetup {
  RunningMock small, large;
  RunningGateway gw;

  explicit AgentSetup(const std::string& large_api, const std::string& key = "",
                      const std::string& small_api = "[chat, responses, messages]",
                      const std::vector<std::string>& small_args = {}) {
    std::vector<std::string> sa = {"--model", "small-model"};
    sa.insert(sa.end(), small_args.begin(), small_args.end());
    small = MustStartMock(sa);
    large = MustStartMock({"--model", "large-model"});
    const char* price =
        "price: {input_per_mtok: 1.0, output_per_mtok: 2.0, cached_input_per_mtok: 0.5, "
        "cache_write_per_mtok: 1.25}";
    std::string yaml = fmt::format(
        "server:\n  listen: 127.0.0.1:0\nbackends:\n"
        "  - name: small\n    url: {}/v1\n    model: small-model\n    api: {}\n    {}\n"
        "  - name: large\n    url: {}/v1\n    model: large-model\n    api: {}\n    {}\n"
        "budgets:\n  ledger_path: {{STATE}}/ledger.db\n{}"
        "router:\n  rules:\n"
        "    - name: pick-large\n      when: {{header: {{x-pick: large}}}}\n"
        "      route: [large, small]\n"
        "    - name: default\n      route: [small, large]\n",
        small.BaseUrl(), small_api, price, large.BaseUrl(), large_api, price,
        key.empty() ? "" : "  keys:\n    - id: team-a\n      key: " + key + "\n");
    gw = MustStartGateway(yaml);
  }
};

inline std::string MessagesBody(const std::string& text, bool stream, int max_tokens = 256) {
  return fmt::format(
      R"({{"model":"auto","max_tokens":{},"stream":{},"system":"You are terse.",)"
      R"("messages":[{{"role":"user","content":[{{"type":"text","text":"{}"}}]}}]}})",
      max_tokens, stream ? "true" : "false", text);
}

// `body` with its "model":"auto" member replaced the way the gateway edits it.
inline std::string ReplaceModel(std::string body, const std::string& model) {
  const std::string from = R"("model":"auto")";
  size_t at = body.find(from);
  REQUIRE(at != std::string::npos);
  return body.replace(at, from.size(), R"("model":")" + model + "\"");
}

// A header of a /mock/last-request record ("" when absent), by lower-case name.
inline std::string HeaderOf(const nlohmann::json& last, const std::string& name) {
  for (const auto& [k, v] : last["headers"].items()) {
    std::string lower = k;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) return v.is_string() ? v.get<std::string>() : v.dump();
  }
  return "";
}

inline std::vector<std::string> EventNames(const SseResponse& r) {
  std::vector<std::string> out;
  for (const auto& e : r.all) out.push_back(e.name);
  return out;
}

// The generated text of a Messages or Responses stream.
inline std::string StreamText(const SseResponse& r) {
  std::string out;
  for (const auto& e : r.all) {
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    if (!j.is_object()) continue;
    if (e.name == "content_block_delta" && j["delta"].is_object() && j["delta"]["text"].is_string())
      out += j["delta"]["text"].get<std::string>();
    if (e.name == "response.output_text.delta" && j["delta"].is_string())
      out += j["delta"].get<std::string>();
  }
  return out;
}

// One routing decision as the parity tests compare it (live headers, /v1/route, explain,
// score).
struct Decision {
  std::string backend, rule, tier;
  double score = -1;
  bool operator==(const Decision&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Decision& d) {
  return os << d.backend << "/" << d.rule << "/" << d.tier << "/" << d.score;
}

// Runs `shell_cmd` with /bin/sh; REQUIREs exit 0 and returns its stdout.
inline std::string RunCli(const std::string& shell_cmd) {
  ProcessOptions po;
  po.argv = {"/bin/sh", "-c", shell_cmd};
  auto p = Process::Start(po);
  REQUIRE(p.ok());
  int rc = (*p)->Wait();
  INFO((*p)->Output());
  REQUIRE(rc == 0);
  std::string out;
  for (const auto& l : (*p)->Lines(OutputStream::kStdout)) out += l + "\n";
  return out;
}

// An error response in Anthropic's shape {"type":"error","error":{"type","message"}};
// returns the error object.
inline nlohmann::json CheckAnthropicError(const httplib::Result& r, int status,
                                          const std::string& type) {
  REQUIRE(r);
  INFO("status " << r->status << " body: " << r->body);
  CHECK(r->status == status);
  CHECK(r->get_header_value("Content-Type").rfind("application/json", 0) == 0);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["type"] == "error");
  REQUIRE(j["error"].is_object());
  CHECK(j["error"]["type"] == type);
  CHECK(j["error"]["message"].is_string());
  return j["error"];
}

}  // namespace signalbox::testing
