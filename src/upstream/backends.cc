#include "upstream/backends.h"

#include <fmt/format.h>

namespace signalbox {

std::shared_ptr<BackendState> BackendRegistry::State(const BackendConfig& b) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& s = states_[b.name];
  if (!s)
    s = std::make_shared<BackendState>(clock_, b.circuit, b.name);
  else
    s->circuit.Configure(b.circuit);
  return s;
}

std::shared_ptr<ClientPool> BackendRegistry::Pool(const BackendConfig& b) {
  ClientSettings settings = ClientSettings::For(b);
  std::string key =
      fmt::format("{}|{}|{}|{}", settings.scheme_host_port, settings.connect_timeout.count(),
                  settings.read_timeout.count(), settings.max_idle);
  std::lock_guard<std::mutex> lk(mu_);
  if (auto p = pools_[key].lock()) return p;
  auto p = std::make_shared<ClientPool>(settings);
  pools_[key] = p;
  return p;
}

bool RetryBudget::TryAcquire() {
  int active = active_.load(std::memory_order_relaxed);
  int cap = std::max(min_.load(std::memory_order_relaxed),
                     active * ratio_milli_.load(std::memory_order_relaxed) / 1000);
  int cur = retries_.load(std::memory_order_relaxed);
  while (cur < cap) {
    if (retries_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace signalbox
