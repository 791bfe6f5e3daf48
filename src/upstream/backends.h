// Long-lived per-backend state that survives config reloads: circuit breaker, in-flight
// count and client pools.
//
// Thread-safe. BackendRegistry hands out one BackendState per backend name; a reload
// that keeps a name keeps its circuit and counters (the new config's circuit settings
// apply from then on). Client pools are shared by identical origin settings, so a
// reload that changes nothing about a backend's connection keeps its warm connections.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "upstream/circuit_breaker.h"
#include "upstream/client_pool.h"

namespace signalbox {

struct BackendState {
  BackendState(const Clock& clock, const CircuitConfig& c, const std::string& name)
      : circuit(clock, c, name) {}
  CircuitBreaker circuit;
  std::atomic<int> inflight{0};
};

class BackendRegistry {
 public:
  explicit BackendRegistry(const Clock& clock) : clock_(clock) {}

  std::shared_ptr<BackendState> State(const BackendConfig& b);
  std::shared_ptr<ClientPool> Pool(const BackendConfig& b);

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BackendState>> states_;
  std::map<std::string, std::weak_ptr<ClientPool>> pools_;  // by scheme_host_port+timeouts
};

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
