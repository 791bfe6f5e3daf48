// The exposition of a registry shaped like SPEC.md's metric list passes
// `promtool check metrics` (parser and lint). Skipped when promtool is not installed.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "metrics/exposition_parse.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"

namespace signalbox::metrics {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

// Feeds `text` to `promtool check metrics` on stdin and returns its exit code and
// combined output.
CheckResult PromtoolCheck(const std::string& text) {
  char path[] = "/tmp/signalbox_promtool_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string(kPromtool) + " check metrics < " + path + " 2>&1";
  CheckResult result;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) result.output.append(buf, n);
  int status = pclose(p);
  unlink(path);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HavePromtool() { return access(kPromtool, X_OK) == 0; }

TEST_CASE("promtool accepts the SPEC-shaped exposition", "[metrics]") {
  if (!HavePromtool()) {
    WARN("SKIPPED: " << kPromtool << " not installed");
    return;
  }
  Registry r;
  auto m = GatewayMetrics::Register(r);
  REQUIRE(m.ok());
  // Backend and key names exercise the escaping and UTF-8 rules.
  std::vector<std::string> backends = {"small", "large", "we\"ird\\na\nme", "caf\xC3\xA9",
                                       "bad\xFF"};
  std::vector<std::string> keys = {std::string(kAnonymousKey), "team-a"};
  m->Precreate(backends, keys);
  REQUIRE(RegisterBackendUp(r, [&](std::vector<GaugeSample>& out) {
            for (const std::string& b : backends) out.push_back({{b}, b == "large" ? 0.0 : 1.0});
          }).ok());

  m->requests->WithLabels({"small", "simple", "default", "200"}).Inc();
  m->requests->WithLabels({"large", "", "explicit", "502"}).Add(3);
  m->request_duration->WithLabels({"small"}).Observe(0.42);
  m->request_duration->WithLabels({"large"}).Observe(900);  // beyond the last bound
  m->time_to_first_token->WithLabels({"small"}).Observe(0.08);
  m->upstream_tokens->WithLabels({"small", kTokenInput}).Add(31);
  m->cost_usd->WithLabels({"small", "team-a"}).Add(3.91e-5);
  m->fallbacks->WithLabels({"large", "small", "timeout"}).Inc();
  m->budget_rejections->WithLabels({"team-a"}).Inc();
  m->inflight_requests->WithLabels({}).Set(2);
  m->config_reloads->WithLabels({kReloadSuccess}).Inc();
  m->classifier_seconds->WithLabels({}).Observe(3.2e-6);

  std::string text = r.Scrape();
  for (const char* name :
       {"signalbox_requests_total", "signalbox_request_duration_seconds",
        "signalbox_time_to_first_token_seconds", "signalbox_upstream_tokens_total",
        "signalbox_cost_usd_total", "signalbox_fallbacks_total",
        "signalbox_budget_rejections_total", "signalbox_inflight_requests", "signalbox_backend_up",
        "signalbox_config_reloads_total", "signalbox_classifier_seconds"}) {
    INFO(name);
    CHECK(text.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
  auto values = testing::ParseExposition(text);
  CHECK(values.at("signalbox_config_reloads_total{result=\"failure\"}") == 0);
  CHECK(values.at("signalbox_cost_usd_total{backend=\"large\",key=\"anonymous\"}") == 0);
  CHECK(values.at("signalbox_backend_up{backend=\"large\"}") == 0);

  CheckResult res = PromtoolCheck(text);
  INFO("promtool output:\n" << res.output << "\nexposition:\n" << text);
  CHECK(res.exit_code == 0);
}

TEST_CASE("promtool check is able to fail (control for the test above)", "[metrics]") {
  if (!HavePromtool()) {
    WARN("SKIPPED: " << kPromtool << " not installed");
    return;
  }
  // A lint problem (counter without _total) and parse errors.
  CHECK(PromtoolCheck("# HELP app_requests Requests.\n# TYPE app_requests counter\n"
                      "app_requests 1\n")
            .exit_code != 0);
  CHECK(PromtoolCheck("# HELP app_up Up.\n# TYPE app_up gauge\napp_up{a=\"x\"y\"} 1\n").exit_code !=
        0);
  // Invalid UTF-8 in a label value is a parse error: why family.cc sanitizes them.
  CHECK(
      PromtoolCheck("# HELP app_up Up.\n# TYPE app_up gauge\napp_up{a=\"x\xFF\"} 1\n").exit_code !=
      0);
}

}  // namespace
}  // namespace signalbox::metrics
