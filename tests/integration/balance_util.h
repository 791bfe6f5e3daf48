// Shared helpers of the load-balancing tests (balance_test.cc, balance_fault_test.cc):
// a config with one backend `pool` made of deployments, keep-alive clients, and reading
// signalbox_deployment_inflight from /metrics.
#pragma once

#include <fmt/format.h>
#include <httplib.h>

#include <map>
#include <string>
#include <vector>

#include "integration/resilience_util.h"

namespace signalbox::testing::balance {

struct Dep {
  Dep(std::string u, int w = 1, std::string n = "")
      : url(std::move(u)), weight(w), name(std::move(n)) {}
  std::string url;  // without /v1
  int weight = 1;
  std::string name;  // "" = named by its index
};

// `server_extra` lines are indented 2 spaces, `pool_extra` 4 (under the pool backend),
// `more_backends` is whole backend entries; one rule routes along `route`.
inline std::string PoolConfig(const std::vector<Dep>& deps, const std::string& pool_extra = "",
                              const std::string& server_extra = "",
                              const std::string& more_backends = "",
                              const std::string& route = "[pool]") {
  std::string out = "server:\n  listen: 127.0.0.1:0\n" + server_extra +
                    "\nbackends:\n  - name: pool\n    model: pool-model\n"
                    "    price: {input_per_mtok: 0.10, output_per_mtok: 0.30}\n" +
                    pool_extra + "    deployments:\n";
  for (const auto& d : deps) {
    out += fmt::format("      - {{url: {}/v1, weight: {}{}}}\n", d.url, d.weight,
                       d.name.empty() ? "" : ", name: " + d.name);
  }
  out += more_backends;
  out +=
      "budgets:\n  ledger_path: {STATE}/ledger.db\nrouter:\n  rules:\n    - name: default\n"
      "      route: " +
      route + "\n";
  return out;
}

inline std::unique_ptr<httplib::Client> KeepAliveClient(const RunningGateway& gw) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", gw.port);
  c->set_keep_alive(true);
  // Without it a keep-alive POST waits out the delayed ACK (~40 ms) on every request.
  c->set_tcp_nodelay(true);
  c->set_read_timeout(std::chrono::seconds(30));
  return c;
}

// Every signalbox_deployment_inflight series of one scrape: "backend/deployment" -> value.
inline std::map<std::string, double> DeploymentInflight(const RunningGateway& gw) {
  std::map<std::string, double> out;
  auto r = gw.Client()->Get("/metrics");
  if (!r || r->status != 200) return out;
  const std::string prefix = "signalbox_deployment_inflight{";
  size_t pos = 0;
  while ((pos = r->body.find(prefix, pos)) != std::string::npos) {
    size_t end = r->body.find('\n', pos);
    std::string line = r->body.substr(pos, end - pos);
    pos = end;
    auto label = [&](const std::string& k) {
      size_t a = line.find(k + "=\"");
      if (a == std::string::npos) return std::string();
      a += k.size() + 2;
      return line.substr(a, line.find('"', a) - a);
    };
    out[label("backend") + "/" + label("deployment")] = std::stod(line.substr(line.rfind(' ')));
  }
  return out;
}

// Polls /metrics until every deployment's in-flight count is 0 (true), or `timeout`.
inline bool WaitAllInflightZero(const RunningGateway& gw,
                                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  do {
    auto m = DeploymentInflight(gw);
    bool zero = !m.empty();
    for (const auto& [k, v] : m) zero &= v == 0;
    if (zero) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// GET /mock/stats "chat" (chat completions served; health checks not included).
inline int64_t Chats(const RunningMock& m) { return resil::Counter(m, "chat"); }

// The deployment an access-log line names ("" when null).
inline std::string DeploymentOf(const nlohmann::json& line) {
  auto it = line.find("deployment");
  return it != line.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace signalbox::testing::balance
