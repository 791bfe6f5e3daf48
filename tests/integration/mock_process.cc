#include "integration/mock_process.h"

#include <httplib.h>

#include <thread>

namespace signalbox::testing {

namespace {

nlohmann::json GetJson(const RunningMock& mock, const std::string& path) {
  httplib::Client client(mock.BaseUrl());
  client.set_read_timeout(std::chrono::seconds(10));
  auto res = client.Get(path.c_str());
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

nlohmann::json RunningMock::Stats() const { return GetJson(*this, "/mock/stats"); }

nlohmann::json RunningMock::LastRequest() const { return GetJson(*this, "/mock/last-request"); }

void RunningMock::ResetStats() const {
  httplib::Client client(BaseUrl());
  client.Post("/mock/reset");
}

bool RunningMock::WaitForStats(const std::function<bool(const nlohmann::json&)>& predicate,
                               std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    nlohmann::json stats = Stats();
    if (stats.is_object() && predicate(stats)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The mock has no push channel; a short poll interval keeps tests quick.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool RunningMock::WaitForCounter(const std::string& name, int64_t value,
                                 std::chrono::milliseconds timeout) const {
  return WaitForStats([&](const nlohmann::json& s) { return s.contains(name) && s[name] == value; },
                      timeout);
}

StatusOr<RunningMock> StartMock(const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout) {
  ProcessOptions options;
  options.argv = {SIGNALBOX_MOCK_BIN, "--listen", "127.0.0.1:0", "--quiet"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto process = Process::Start(options);
  if (!process.ok()) return process.status();
  RunningMock mock;
  mock.process = std::move(*process);
  auto line = mock.process->WaitForLine(
      [](const std::string& l) { return l.find("\"event\":\"listening\"") != std::string::npos; },
      timeout);
  if (!line) {
    return Unavailable("signalbox-mock did not start:\n" + mock.process->Output());
  }
  auto doc = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc["address"].is_string()) {
    return Internal("unexpected listening line: " + *line);
  }
  const std::string address = doc["address"];
  mock.port = std::stoi(address.substr(address.rfind(':') + 1));
  return mock;
}

}  // namespace signalbox::testing
