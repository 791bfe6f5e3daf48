// The common setup of the gateway's HTTP tests: two mocks (small-model, large-model) and
// a gateway on TwoBackendConfig() in front of them, optionally with one API key.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "integration/gateway_process.h"
#include "integration/mock_process.h"

namespace signalbox::testing {

struct MocksAndGateway {
  RunningMock small, large;
  RunningGateway gw;

  // `server_extra`: lines under server:. `key` non-empty: one budgets key `team-a` with
  // that secret (passed through the environment as ${K}).
  explicit MocksAndGateway(const std::string& server_extra, const std::string& key = "") {
    auto s = StartMock({"--model", "small-model"});
    auto l = StartMock({"--model", "large-model"});
    REQUIRE(s.ok());
    REQUIRE(l.ok());
    small = std::move(s).value();
    large = std::move(l).value();
    GatewayOptions go;
    go.config_yaml = TwoBackendConfig(small, large, server_extra);
    if (!key.empty()) {
      const std::string anchor = "  ledger_path: {STATE}/ledger.db\n";
      size_t at = go.config_yaml.find(anchor);
      REQUIRE(at != std::string::npos);
      go.config_yaml.insert(at + anchor.size(), "  keys:\n    - id: team-a\n      key: ${K}\n");
      go.env = {{"K", key}};
    }
    auto g = StartGateway(go);
    if (!g.ok()) FAIL(g.status().message());
    gw = std::move(g).value();
  }

  int64_t UpstreamRequests() const {
    return small.Stats()["requests"].get<int64_t>() + large.Stats()["requests"].get<int64_t>();
  }
};

}  // namespace signalbox::testing
