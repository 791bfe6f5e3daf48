// Long-lived per-backend and per-deployment state that survives config reloads: circuit
// breakers, in-flight counts, the round-robin cursor and client pools.
//
// Thread-safe. BackendRegistry hands out one BackendState per backend name and one
// DeploymentState per (backend name, deployment key = its url, "#k" for repeats); a
// reload that keeps them keeps their circuit and counters (the new config's circuit
// settings apply from then on). Client pools are shared by identical origin settings, so
// a reload that changes nothing about a deployment's connection keeps its warm
// connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "upstream/circuit_breaker.h"
#include "upstream/client_pool.h"

namespace signalbox {

// One copy of a backend's model: its own circuit (passive and active health, 429
// retry-after) and in-flight count (the balancer's load signal and max_concurrency).
struct DeploymentState {
  DeploymentState(const Clock& clock, const CircuitConfig& c, const std::string& name)
      : circuit(clock, c, name) {}
  CircuitBreaker circuit;
  std::atomic<int> inflight{0};
};

// What the backend as a whole keeps across reloads.
struct BackendState {
  std::atomic<uint64_t> round_robin{0};  // next ticket of balance: round_robin
};

// RAII: one attempt in flight on a deployment, released on every exit path.
class InflightGuard {
 public:
  explicit InflightGuard(DeploymentState& d) : d_(d) {
    d_.inflight.fetch_add(1, std::memory_order_relaxed);
  }
  ~InflightGuard() { d_.inflight.fetch_sub(1, std::memory_order_relaxed); }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;

 private:
  DeploymentState& d_;
};

class BackendRegistry {
 public:
  explicit BackendRegistry(const Clock& clock) : clock_(clock) {}

  std::shared_ptr<BackendState> State(const BackendConfig& b);
  std::shared_ptr<DeploymentState> Deployment(const BackendConfig& b, const DeploymentConfig& d);
  // `b` is the effective config of one deployment (its url, api_key and headers).
  std::shared_ptr<ClientPool> Pool(const BackendConfig& b);

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BackendState>> states_;
  std::map<std::string, std::shared_ptr<DeploymentState>> deployments_;  // "backend\nkey"
  std::map<std::string, std::weak_ptr<ClientPool>> pools_;  // by scheme_host_port+timeouts
};

// The config one deployment is called with: the backend's, with the deployment's url,
// its api_key when set, and its headers over the backend's (same name: the deployment's).
BackendConfig EffectiveConfig(const BackendConfig& b, const DeploymentConfig& d);

// Retry budget (after Envoy): concurrent retries may not exceed
// max(min, ratio x active requests). Thread-safe, lock-free.
class RetryBudget {
 public:
  void Configure(double ratio, int min) {
    ratio_milli_ = static_cast<int>(ratio * 1000);
    min_ = min;
  }
  // RAII marker of one active request.
  class Active {
   public:
    explicit Active(RetryBudget& b) : b_(b) { b_.active_.fetch_add(1, std::memory_order_relaxed); }
    ~Active() { b_.active_.fetch_sub(1, std::memory_order_relaxed); }

   private:
    RetryBudget& b_;
  };
  bool TryAcquire();
  void Release() { retries_.fetch_sub(1, std::memory_order_relaxed); }
  int active() const { return active_.load(std::memory_order_relaxed); }
  int retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> active_{0};
  std::atomic<int> retries_{0};
  std::atomic<int> ratio_milli_{200};
  std::atomic<int> min_{3};
};

}  // namespace signalbox
