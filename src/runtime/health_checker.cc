#include "runtime/health_checker.h"

#include "common/log.h"
#include "upstream/health_probe.h"

namespace signalbox {

HealthChecker::HealthChecker(ConfigStore& store, std::chrono::milliseconds tick)
    : store_(store), tick_(tick) {
  thread_ = std::thread([this] { Run(); });
}

HealthChecker::~HealthChecker() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HealthChecker::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, tick_);
    if (stop_) break;
    auto snap = store_.Current();
    if (!snap) continue;
    auto now = std::chrono::steady_clock::now();
    for (const auto& b : snap->backends) {
      const auto interval = b.cfg->health_check.interval;
      if (interval.count() <= 0) continue;
      for (const auto& d : b.deployments) {
        auto& next = next_[b.cfg->name + "\n" + d.dep->key];
        if (now < next) continue;
        next = now + interval;
        lk.unlock();  // never hold the lock across network I/O
        bool ok = ProbeHealth(d.cfg);
        if (ok) {
          d.state->circuit.OnHealthy();
        } else {
          Log(LogLevel::kWarn, "health check failed")
              .Field("backend", b.cfg->name)
              .Field("deployment", d.name());
          d.state->circuit.OnFailure(false);
        }
        lk.lock();
        if (stop_) return;
      }
    }
  }
}

}  // namespace signalbox
