// ClusterState: budgets, per-key limits and their reservations shared by every replica
// through one Redis (cluster.redis). Each admission is one atomic Lua step (one round
// trip) that checks and takes max_parallel, rpm, tpm and the budget estimate together;
// each settle is one more. See cluster/README.md for the key layout, the leases, the
// overspend bound and what happens when Redis is slow, down or comes back empty.
//
// Thread-safe and long-lived (outlives reloads; limits come from the caller's snapshot).
// Owns one background thread: lease renewal, the probe while Redis is down, and the
// reconciliation when it answers again. No lock is held during a Redis call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "budget/rate_limiter.h"
#include "budget/spend_tracker.h"
#include "cluster/redis_client.h"
#include "common/clock.h"

namespace signalbox::cluster {

struct ClusterOptions {
  RedisEndpoint endpoint;
  std::string prefix = "signalbox:";
  bool reject_when_down = false;  // on_unavailable: reject
  std::chrono::milliseconds lease{30'000};
  std::string replica_id;  // stable across restarts (kept beside the ledger)
};

// One request's hold on the shared state. One-per-request; ClusterState::Settle() ends it.
struct ClusterTicket {
  std::string key;
  std::string id;              // set: admitted in Redis
  budget::RateTicket local;    // admitted on this replica alone (Redis down)
  int64_t local_reserved = 0;  // nano-USD reserved locally (Redis down)
  bool settled = true;
};

struct ClusterAdmission {
  enum class Verdict { kAdmitted, kLimited, kBudget, kUnavailable };
  Verdict verdict = Verdict::kAdmitted;
  std::optional<budget::RateDenial> denial;  // kLimited
  std::string message;                       // kBudget, kUnavailable
  budget::RateLimitState state;
  ClusterTicket ticket;
};

// A settled attempt's cost, by backend.
struct BackendCost {
  std::string backend;
  int64_t nano_usd = 0;
};

class ClusterState {
 public:
  // `spend` (may be null) gives this replica's ledger totals: the contribution when Redis
  // must be rebuilt. REQUIRES: spend and clock outlive this.
  ClusterState(ClusterOptions options, budget::SpendTracker* spend, const Clock& clock);
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // Connects and syncs once (bounded by the timeout; Redis down is not an error: the
  // background thread keeps trying), then starts the background thread.
  void Start();

  // Admits one request of `key`: its limits, `tokens` estimated tokens and `estimate_usd`
  // of budget. Redis down: on_unavailable local admits on this replica's own state;
  // reject answers kUnavailable.
  ClusterAdmission Admit(const std::string& key, const budget::RateLimits& rate,
                         const budget::BudgetLimits& budget, int64_t tokens, double estimate_usd);
  // Ends a request (admitted or not: spend is recorded either way), after its records
  // were settled in the ledger: frees its slot and reservation, replaces the token
  // estimate by `tokens`, adds the costs. Redis down: kept and pushed when it answers.
  void Settle(ClusterTicket& ticket, const std::string& key, std::optional<int64_t> tokens,
              const std::vector<BackendCost>& costs);

  // The key's limit state as last seen (no Redis call).
  budget::RateLimitState State(const std::string& key, const budget::RateLimits& rate) const;
  // What the key may still reserve, from the cluster totals last seen plus this
  // replica's spend since (no Redis call).
  budget::BudgetRemaining Remaining(const std::string& key, const budget::BudgetLimits& b) const;
  // Cluster-wide window totals, read from Redis (admin and CLI; not the request path).
  StatusOr<budget::WindowSums> Totals() const;

  bool up() const { return up_.load(std::memory_order_relaxed); }
  // Admissions that had to go local because Redis was unavailable.
  int64_t local_admissions() const { return local_admissions_.load(); }

 private:
  void Run();   // the background thread
  bool Sync();  // (re)joins the generation and pushes what waits; true: up
  void MarkDown(const Status& why);
  void RollLocked(int64_t now_ms);                               // REQUIRES: mu_ held
  void AddPendingLocked(const std::string& name, int64_t nano);  // REQUIRES: mu_ held
  ClusterAdmission AdmitLocal(const std::string& key, const budget::RateLimits& rate,
                              const budget::BudgetLimits& budget, int64_t tokens, int64_t estimate);
  int64_t NowMs() const;
  int64_t LocalUsedLocked(const std::string& key, bool day) const;  // REQUIRES: mu_

  const ClusterOptions opt_;
  budget::SpendTracker* const spend_;
  const Clock& clock_;
  mutable RedisClient redis_;
  const std::string incarnation_;  // replica_id.random: the lease holder
  budget::LocalRateLimiter local_limits_;
  std::atomic<bool> up_{false};
  std::atomic<int64_t> local_admissions_{0};
  std::atomic<uint64_t> next_ticket_{1};

  mutable std::mutex mu_;
  std::string gen_;              // GUARDED_BY(mu_): the generation this replica belongs to
  int64_t day_ = 0, month_ = 0;  // GUARDED_BY(mu_)
  std::map<std::string, std::pair<int64_t, int64_t>> totals_;  // GUARDED_BY(mu_): "k:id"/"b:name"
  struct SeenEntry {
    int64_t day = -1, month = -1;
    int64_t offset_day = 0, offset_month = 0;  // cluster total - this replica's, when seen
    int64_t reserved = 0;
    int64_t requests = 0, tokens = 0, in_flight = 0;  // the key's counts in Redis
  };
  void SeeLocked(const std::string& key, const RedisValue& reply, size_t first);  // REQUIRES: mu_
  std::map<std::string, SeenEntry> seen_;                                         // GUARDED_BY(mu_)
  std::map<std::string, int64_t> local_reserved_;                                 // GUARDED_BY(mu_)
  std::map<std::string, std::pair<int64_t, int64_t>> pending_;                    // GUARDED_BY(mu_)
  std::vector<std::pair<std::string, std::string>> pending_release_;              // GUARDED_BY(mu_)
  int64_t pending_day_ = 0, pending_month_ = 0;                                   // GUARDED_BY(mu_)

  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(wake_mu_)
  std::thread thread_;
};

// The replica's stable id, kept in `path` (created with a random id when missing).
std::string LoadReplicaId(const std::string& path);

}  // namespace signalbox::cluster
