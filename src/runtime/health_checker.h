// HealthChecker: optional active health checks (backends[].health_check.interval > 0);
// the probe itself is upstream/health_probe.h.
//
// Thread-safe; one background thread. Every deployment of every backend of the current
// snapshot whose interval is set gets `GET <url><health_check.path>` at that interval
// (with the deployment's auth and headers, connect/first-byte timeouts capped at 5 s). A
// failure counts against that deployment's circuit like a failed request (so
// `circuit.failures` failed checks open it); a success closes an open circuit at once, so
// a recovered deployment gets traffic back without waiting for its cool-down.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/config_store.h"

namespace signalbox {

class HealthChecker {
 public:
  explicit HealthChecker(ConfigStore& store,
                         std::chrono::milliseconds tick = std::chrono::milliseconds(250));
  ~HealthChecker();

 private:
  void Run();

  ConfigStore& store_;
  const std::chrono::milliseconds tick_;
  // By backend name + "\n" + deployment key.
  std::map<std::string, std::chrono::steady_clock::time_point> next_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace signalbox
