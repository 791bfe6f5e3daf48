// Real clients through the gateway, offline against the mock: the official Anthropic and
// OpenAI SDKs (plain, stream, tool use, errors), Claude Code (`claude -p`) and Codex CLI
// (`codex exec`). Then `signalbox explain` with the shipped config on the bodies the agents
// really sent: a trivial ask goes to small, a code review to large.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "integration/agent_util.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kClients = std::string(SIGNALBOX_SOURCE_DIR) + "/tests/clients";
const char* kKey = "sk-agent-test-1";

// False (with a visible warning) when npm is missing; a FAIL when npm is there but the
// packages are not installed (make deps installs them).
bool ClientsInstalled(const char* package) {
  if (std::system("command -v npm >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: npm missing (install Node.js and npm, then make deps)");
    return false;
  }
  if (std::system(("test -d " + kClients + "/node_modules/" + package).c_str()) != 0)
    FAIL("tests/clients/node_modules/" << package << " is missing: run make deps");
  return true;
}

struct Run {
  int exit_code = -1;
  std::string stdout_text;
  std::string output;  // both streams, for failure messages
};

Run RunClient(std::vector<std::string> argv,
              std::vector<std::pair<std::string, std::string>> env = {}) {
  ProcessOptions po;
  po.argv = std::move(argv);
  po.env = std::move(env);
  po.working_dir = kClients;
  auto p = Process::Start(po);
  REQUIRE(p.ok());
  auto code = (*p)->WaitFor(seconds(180));
  if (!code) (*p)->Kill();
  Run r;
  r.exit_code = code.value_or(-1);
  for (const auto& l : (*p)->Lines(OutputStream::kStdout)) r.stdout_text += l + "\n";
  r.output = (*p)->Output();
  return r;
}

// The routing decision of `signalbox explain` with the shipped config for `body`.
json ExplainShipped(const std::string& body, const std::string& dir) {
  std::string path = dir + "/explain-body.json";
  std::ofstream(path) << body;
  return json::parse(RunCli(std::string(SIGNALBOX_BIN) + " explain --config " +
                            SIGNALBOX_SOURCE_DIR + "/config/signalbox.yaml < " + path));
}

}  // namespace

TEST_CASE("the official Anthropic and OpenAI SDKs: Messages and Responses through the gateway",
          "[integration][agent][sdk]") {
  if (!ClientsInstalled("@anthropic-ai/sdk")) return;
  AgentSetup s("[chat, responses, messages]", kKey);
  auto r = RunClient({"node", kClients + "/agent_sdks.mjs", s.gw.BaseUrl(), kKey, kMockText,
                      "messages_plain,messages_stream,messages_tool,messages_error,"
                      "messages_count_tokens,responses_plain,responses_stream,responses_tool,"
                      "responses_error"});
  INFO(r.output);
  if (r.stdout_text.find("SKIPPED:") != std::string::npos) {
    WARN(r.stdout_text);
    return;
  }
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_text.find("all 9 checks ok") != std::string::npos);
}

TEST_CASE(
    "Claude Code and Codex CLI answer through the gateway, and their real bodies route "
    "a trivial ask to small and a code review to large",
    "[integration][agent][sdk]") {
  if (!ClientsInstalled("@anthropic-ai/claude-code")) return;
  AgentSetup s("[chat, responses, messages]", kKey);
  const std::string review =
      "Review this function for bugs and refactor it for clarity:\n"
      "def avg(xs):\n    t = 0\n    for i in range(1, len(xs)):\n        t += xs[i]\n"
      "    return t / len(xs)\n";
  struct Agent {
    const char* name;
    std::string base;
    const char* path;
  } agents[] = {{"claude", s.gw.BaseUrl(), "/v1/messages?beta=true"},
                {"codex", s.gw.BaseUrl() + "/v1", "/v1/responses"}};
  for (const auto& a : agents) {
    for (const auto& [ask, want_backend] :
         {std::pair<std::string, std::string>{"Reply with the single word hi", "small"},
          {review, "large"}}) {
      INFO(a.name << ": " << ask);
      auto r = RunClient({kClients + "/run-agent", a.name, a.base, kKey, ask});
      INFO(r.output);
      if (r.stdout_text.find("SKIPPED:") != std::string::npos) {
        WARN(r.stdout_text);
        return;
      }
      CHECK(r.exit_code == 0);
      CHECK(r.stdout_text.find(kMockText) != std::string::npos);
      // The body the agent really sent, as the mock received it.
      const RunningMock& m = s.small.LastRequest()["path"] == a.path ? s.small : s.large;
      json last = m.LastRequest();
      CHECK(last["path"] == a.path);
      std::string body = last["body"];
      json sent = json::parse(body);
      sent["model"] = "auto";  // the gateway replaced it with the backend's model
      json d = ExplainShipped(sent.dump(), s.gw.dir);
      INFO(d.dump(2));
      CHECK(d["backend"] == want_backend);
      s.small.ResetStats();
      s.large.ResetStats();
    }
  }
}

}  // namespace signalbox::testing
