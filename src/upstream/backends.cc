#include "upstream/backends.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace signalbox {

namespace {

bool SameHeaderName(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::shared_ptr<BackendState> BackendRegistry::State(const BackendConfig& b) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& s = states_[b.name];
  if (!s) s = std::make_shared<BackendState>();
  return s;
}

std::shared_ptr<DeploymentState> BackendRegistry::Deployment(const BackendConfig& b,
                                                             const DeploymentConfig& d) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& s = deployments_[b.name + "\n" + d.key];
  // Log lines name a backend's only deployment by the backend alone, as before.
  std::string name = b.listed_deployments ? b.name + "/" + d.name : b.name;
  if (!s)
    s = std::make_shared<DeploymentState>(clock_, b.circuit, name);
  else
    s->circuit.Configure(b.circuit);
  return s;
}

BackendConfig EffectiveConfig(const BackendConfig& b, const DeploymentConfig& d) {
  BackendConfig e = b;
  e.url = d.url;
  e.scheme = d.scheme;
  e.host = d.host;
  e.port = d.port;
  e.base_path = d.base_path;
  if (!d.api_key.empty()) e.api_key = d.api_key;
  for (const auto& [k, v] : d.headers) {
    std::erase_if(e.headers, [&](const auto& h) { return SameHeaderName(h.first, k); });
    e.headers.emplace_back(k, v);
  }
  e.deployments.clear();  // the effective config is one deployment: no recursion
  return e;
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
