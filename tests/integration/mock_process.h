// Starting signalbox-mock from an integration test: runs the built binary on a free
// port and reads the port from its "listening" line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "integration/process.h"

namespace signalbox::testing {

// A running mock. Destroying it kills the process.
struct RunningMock {
  std::unique_ptr<Process> process;
  int port = 0;
  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port); }
  std::string BaseUrl() const { return "http://" + HostPort(); }

  // GET /mock/stats and /mock/last-request; null JSON when the mock does not answer.
  nlohmann::json Stats() const;
  nlohmann::json LastRequest() const;
  // POST /mock/reset.
  void ResetStats() const;
  // Polls /mock/stats until `predicate` holds (true) or `timeout` passes (false).
  bool WaitForStats(const std::function<bool(const nlohmann::json&)>& predicate,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Polls until the integer counter `name` of /mock/stats equals `value`.
  bool WaitForCounter(const std::string& name, int64_t value,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
};

// Starts SIGNALBOX_MOCK_BIN --listen 127.0.0.1:0 --quiet plus `args`, and waits up to
// `timeout` for its listening line. Fails with the mock's output when it does not come.
StatusOr<RunningMock> StartMock(const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace signalbox::testing
