// Starting the real gateway from an integration test: writes a config into a fresh
// temporary directory (its ledger goes there too), runs `signalbox serve --listen
// 127.0.0.1:0`, and reads the port from the "listening" log line.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "integration/mock_process.h"
#include "integration/process.h"

namespace signalbox::testing {

struct GatewayOptions {
  std::string config_yaml;  // the whole config; "{STATE}" is replaced by the temp dir
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> extra_args;
};

// A running gateway. Destroying it kills the process and removes its directory.
struct RunningGateway {
  std::unique_ptr<Process> process;
  int port = 0;
  std::string dir;          // temporary directory: config.yaml, state/
  std::string config_path;  // dir + "/config.yaml"

  RunningGateway() = default;
  RunningGateway(RunningGateway&&) = default;
  RunningGateway& operator=(RunningGateway&&) = default;
  ~RunningGateway();

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::unique_ptr<httplib::Client> Client(
      std::chrono::seconds read_timeout = std::chrono::seconds(30)) const;
  // Access-log lines (stdout), parsed.
  std::vector<nlohmann::json> AccessLog() const;
  // Waits for an access-log line for which `pred` holds.
  std::optional<nlohmann::json> WaitForAccess(
      const std::function<bool(const nlohmann::json&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Replaces the config file the way editors do (a temp file renamed over it), with
  // "{STATE}" expanded like StartGateway() does. The running gateway notices the change.
  void WriteConfig(const std::string& yaml) const;
  // Waits for an operational log line (stderr) whose "msg" contains `text`.
  bool WaitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
};

StatusOr<RunningGateway> StartGateway(const GatewayOptions& options,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(15));

// A config with two backends, `small` and `large`, on the given mocks (prices 0.10/0.30
// and 2.50/10.00 per Mtok), the ledger in {STATE}, `server_extra` appended under
// server:, `backend_extra` under each backend, and `rules` as the router rules (default:
// tools -> [large, small], default -> [small, large]).
std::string TwoBackendConfig(const RunningMock& small, const RunningMock& large,
                             const std::string& server_extra = "",
                             const std::string& backend_extra = "", const std::string& rules = "");

// A chat body with one user message.
std::string ChatBody(const std::string& content, bool stream = false,
                     const std::string& extra = "");

}  // namespace signalbox::testing
