// The common setup of the gateway's HTTP tests: two mocks (small-model, large-model) and
// a gateway on TwoBackendConfig() in front of them. One fixture for every test file that
// needs that pair; FixtureOptions says what differs.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"

namespace signalbox::testing {

struct FixtureOptions {
  std::string server_extra;                         // lines under server:
  std::string backend_extra;                        // lines under each backend
  std::vector<std::string> small_args, large_args;  // extra signalbox-mock flags
  std::vector<std::pair<std::string, std::string>> env;
  // Non-empty: one budgets key `team-a` with this secret (passed as ${K}).
  std::string key;
  // budgets.keys: [{id: team-a, key: ${K}}] with ${K} from `env` (key == "").
  bool key_from_env = false;
};

struct MocksAndGateway {
  RunningMock small, large;
  RunningGateway gw;

  explicit MocksAndGateway(const FixtureOptions& o) {
    std::vector<std::string> sa = {"--model", "small-model"}, la = {"--model", "large-model"};
    sa.insert(sa.end(), o.small_args.begin(), o.small_args.end());
    la.insert(la.end(), o.large_args.begin(), o.large_args.end());
    auto s = StartMock(sa);
    auto l = StartMock(la);
    REQUIRE(s.ok());
    REQUIRE(l.ok());
    small = std::move(s).value();
    large = std::move(l).value();
    GatewayOptions go;
    go.config_yaml = TwoBackendConfig(small, large, o.server_extra, o.backend_extra);
    go.env = o.env;
    if (!o.key.empty() || o.key_from_env) {
      const std::string anchor = "  ledger_path: {STATE}/ledger.db\n";
      size_t at = go.config_yaml.find(anchor);
      REQUIRE(at != std::string::npos);
      go.config_yaml.insert(at + anchor.size(), "  keys:\n    - id: team-a\n      key: ${K}\n");
      if (!o.key.empty()) go.env.emplace_back("K", o.key);
    }
    auto g = StartGateway(go);
    if (!g.ok()) FAIL(g.status().message());
    gw = std::move(g).value();
  }

  // `server_extra`: lines under server:. `key` non-empty: one budgets key `team-a` with
  // that secret.
  explicit MocksAndGateway(const std::string& server_extra = "", const std::string& key = "")
      : MocksAndGateway(FixtureOptions{server_extra, "", {}, {}, {}, key, false}) {}

  int64_t UpstreamRequests() const {
    return small.Stats()["requests"].get<int64_t>() + large.Stats()["requests"].get<int64_t>();
  }
};

}  // namespace signalbox::testing
