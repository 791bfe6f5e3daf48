// SpendTracker: the in-memory budget state of a running gateway: what each key and each
// backend spent in the current UTC day and month, and what in-flight requests reserved.
//
// Thread-safe and long-lived (outlives config reloads; limits come from the caller's
// snapshot on every call). One mutex guards all totals and reservations, so a check and
// the reservation that follows it are one atomic step: a burst of concurrent requests
// cannot all pass the check before any of them is counted.
//
// Request path:
//   1. Reserve(key, limits, estimate) before calling a backend (again for each paid
//      fallback: a fallback is a new reservation for its own estimate);
//   2. Settle(attempt records) once the request ended, before the client sees the end of
//      the response: durable in the ledger, then added to the totals;
//   3. the Reservation handle is destroyed (or Release()d) after the final settle.
// See README.md for the overspend bound this gives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "budget/ledger.h"
#include "common/clock.h"
#include "common/status.h"

namespace signalbox::budget {

// The id that requests without a gateway key are accounted under.
inline constexpr std::string_view kAnonymousKeyId = "anonymous";

// A key's budget limits in USD; nullopt = unlimited.
struct BudgetLimits {
  std::optional<double> daily_usd;
  std::optional<double> monthly_usd;
};

// What a key may still reserve in each window; nullopt = unlimited. Never negative.
struct BudgetRemaining {
  std::optional<double> day_usd;
  std::optional<double> month_usd;
};

class SpendTracker;

// One request's reservation. Move-only; one-per-request. Releases the reserved amount
// when destroyed, so no exit path (error, cancel, timeout, exception) can leak it.
// REQUIRES: the SpendTracker outlives its reservations.
class Reservation {
 public:
  Reservation() = default;
  ~Reservation() { Release(); }
  Reservation(Reservation&& other) noexcept { *this = std::move(other); }
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  // Gives the amount back now. Idempotent.
  void Release();

  bool active() const { return tracker_ != nullptr; }
  const std::string& key_id() const { return key_id_; }
  double amount_usd() const;

 private:
  friend class SpendTracker;
  Reservation(SpendTracker* tracker, std::string key_id, int64_t nano_usd)
      : tracker_(tracker), key_id_(std::move(key_id)), nano_usd_(nano_usd) {}

  SpendTracker* tracker_ = nullptr;
  std::string key_id_;
  int64_t nano_usd_ = 0;
};

// Outstanding reservations, for the "no leak" invariant and metrics.
struct ReservationStats {
  int64_t count = 0;
  int64_t nano_usd = 0;
};

class SpendTracker {
 public:
  // `ledger` may be null (budgets kept in memory only, e.g. unit tests); otherwise the
  // current windows are rebuilt from it. REQUIRES: ledger (if any) and clock outlive this.
  static StatusOr<std::unique_ptr<SpendTracker>> Create(Ledger* ledger, const Clock& clock);

  ~SpendTracker();
  SpendTracker(const SpendTracker&) = delete;
  SpendTracker& operator=(const SpendTracker&) = delete;

  // Atomically checks spent + reserved + estimate <= limit for the day and the month and
  // reserves the estimate, or fails with kResourceExhausted naming the budget, the key and
  // what is left. Unlimited windows always pass. An empty key_id means anonymous.
  // kInvalidArgument for a negative or non-finite estimate.
  StatusOr<Reservation> Reserve(std::string_view key_id, const BudgetLimits& limits,
                                double estimate_usd);

  // Appends the records to the ledger (durable when this returns OK), then adds the cost
  // of those actually appended (not duplicates) to the totals; a replay of a record the
  // ledger had already committed is taken back when the ledger's applier finds it (within
  // its apply interval; at once after Ledger::Flush()). A record with ts_ms == 0 is
  // stamped with the clock's wall time; an empty key_id becomes "anonymous".
  // Replaying records that are already in the ledger is harmless (counted once).
  // If the ledger write fails, the error is returned but the spend still counts in memory
  // (budgets keep being enforced) and the tracker itself retries those records with every
  // later Settle() until they land: do not Settle() them again yourself. Settle({}) just
  // retries them (e.g. on SIGTERM drain).
  // Without a ledger there is no de-duplication: every record counts.
  Status Settle(std::span<const AttemptRecord> records);

  // What `key_id` may still reserve: limit - spent - reserved, at least 0.
  BudgetRemaining Remaining(std::string_view key_id, const BudgetLimits& limits) const;

  // Settled spend per key and backend in the current windows (for GET /admin/spend).
  WindowSums Totals() const;

  ReservationStats Outstanding() const;
  // Records counted in memory whose ledger write failed and awaits a retry.
  size_t Unpersisted() const;

 private:
  friend class Reservation;
  using TotalsMap = std::map<std::string, WindowTotals, std::less<>>;
  using RecordId = std::pair<std::string, int>;  // (request_id, attempt)
  // A record counted in memory whose ledger write failed.
  struct PendingRecord {
    AttemptRecord record;
    bool in_flight = false;  // a Settle() is retrying it right now
  };
  // A Settle() call's records: its own first, then unpersisted ones it retries.
  struct Batch {
    std::vector<AttemptRecord> records;
    size_t own = 0;
    std::vector<bool> counted;  // own record already counted (it was unpersisted)
  };

  SpendTracker(Ledger* ledger, const Clock& clock) : ledger_(ledger), clock_(clock) {}
  void Release(const std::string& key_id, int64_t nano_usd);
  // Moves the current windows forward to those containing `ts_ms`; never backwards.
  void RollTo(int64_t ts_ms) const;  // REQUIRES: mu_ held
  // Adds (sign 1) or takes back (sign -1) the record's cost in the current windows.
  void AddLocked(const AttemptRecord& r, int sign = 1);                    // REQUIRES: mu_ held
  void TakeUnpersisted(Batch& batch);                                      // REQUIRES: mu_ held
  void OnAppended(const Batch& batch, const std::vector<bool>& inserted);  // REQUIRES: mu_
  void OnAppendFailed(const Batch& batch);                                 // REQUIRES: mu_ held
  int64_t NowMs() const;

  Ledger* const ledger_;
  const Clock& clock_;

  mutable std::mutex mu_;
  // Mutable: readers roll the windows forward too (a new day starts at zero).
  mutable int64_t latest_ms_ = 0;  // GUARDED_BY(mu_): latest time seen; selects the windows
  mutable int64_t day_ = 0;        // GUARDED_BY(mu_): DayIndex(latest_ms_)
  mutable int64_t month_ = 0;      // GUARDED_BY(mu_): MonthIndex(latest_ms_)
  mutable TotalsMap keys_;         // GUARDED_BY(mu_)
  mutable TotalsMap backends_;     // GUARDED_BY(mu_)
  std::map<std::string, ReservationStats, std::less<>> reserved_;  // GUARDED_BY(mu_)
  std::map<RecordId, PendingRecord> unpersisted_;                  // GUARDED_BY(mu_)
};

}  // namespace signalbox::budget
