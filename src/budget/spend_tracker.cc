#include "budget/spend_tracker.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "budget/budget_window.h"
#include "budget/money.h"

namespace signalbox::budget {
namespace {

constexpr double kMaxEstimateUsd = 1e9;

std::string KeyOrAnonymous(std::string_view key_id) {
  return key_id.empty() ? std::string(kAnonymousKeyId) : std::string(key_id);
}

int64_t Lookup(const std::map<std::string, WindowTotals, std::less<>>& totals,
               std::string_view name, bool day) {
  auto it = totals.find(name);
  if (it == totals.end()) return 0;
  return day ? it->second.day_nano_usd : it->second.month_nano_usd;
}

// limit - used, never negative.
int64_t Left(int64_t limit, int64_t used) { return std::max<int64_t>(0, limit - used); }

}  // namespace

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    tracker_ = std::exchange(other.tracker_, nullptr);
    key_id_ = std::move(other.key_id_);
    nano_usd_ = std::exchange(other.nano_usd_, 0);
  }
  return *this;
}

void Reservation::Release() {
  if (tracker_ == nullptr) return;
  tracker_->Release(key_id_, nano_usd_);
  tracker_ = nullptr;
}

double Reservation::amount_usd() const { return FromNanoUsd(nano_usd_); }

// Settle, in three steps so that no lock is held during the ledger write:
//   1. under the lock, note which of the caller's records are already counted (waiting in
//      unpersisted_ after a failed write) and take the unpersisted records nobody is
//      retrying yet;
//   2. append everything to the ledger (group commit with concurrent callers);
//   3. under the lock, count each of the caller's records that the ledger inserted and
//      that was not counted already. Unpersisted records were counted when their first
//      write failed: they only leave the retry list. If the write fails, the caller's new
//      records are counted now and join the retry list.
Status SpendTracker::Settle(std::span<const AttemptRecord> records) {
  Batch batch;
  batch.records.reserve(records.size());
  const int64_t now = NowMs();
  for (const AttemptRecord& r : records) {
    AttemptRecord copy = r;
    if (copy.ts_ms == 0) copy.ts_ms = now;
    if (copy.key_id.empty()) copy.key_id = std::string(kAnonymousKeyId);
    Status s = ValidateRecord(copy);
    if (!s.ok()) return s;
    batch.records.push_back(std::move(copy));
  }
  batch.own = batch.records.size();

  if (ledger_ == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const AttemptRecord& r : batch.records) AddLocked(r);
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    TakeUnpersisted(batch);
  }
  if (batch.records.empty()) return Status::Ok();
  auto inserted = ledger_->Append(batch.records);
  std::lock_guard<std::mutex> lock(mu_);
  if (!inserted.ok()) {
    OnAppendFailed(batch);
    return inserted.status();
  }
  OnAppended(batch, *inserted);
  return Status::Ok();
}

void SpendTracker::TakeUnpersisted(Batch& batch) {
  batch.counted.assign(batch.own, false);
  for (size_t i = 0; i < batch.own; ++i) {
    const AttemptRecord& r = batch.records[i];
    batch.counted[i] = unpersisted_.count(RecordId(r.request_id, r.attempt)) > 0;
  }
  for (auto& [id, pending] : unpersisted_) {
    if (pending.in_flight) continue;
    pending.in_flight = true;
    batch.records.push_back(pending.record);
  }
}

void SpendTracker::OnAppended(const Batch& batch, const std::vector<bool>& inserted) {
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const AttemptRecord& r = batch.records[i];
    const RecordId id(r.request_id, r.attempt);
    if (i >= batch.own || batch.counted[i]) {
      unpersisted_.erase(id);  // in the ledger now, and counted when it first failed
    } else if (inserted[i]) {
      AddLocked(r);
    }
  }
}

void SpendTracker::OnAppendFailed(const Batch& batch) {
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const AttemptRecord& r = batch.records[i];
    const RecordId id(r.request_id, r.attempt);
    if (i >= batch.own) {
      auto it = unpersisted_.find(id);
      if (it != unpersisted_.end()) it->second.in_flight = false;
    } else if (!batch.counted[i] && unpersisted_.count(id) == 0) {
      unpersisted_.emplace(id, PendingRecord{r, false});
      AddLocked(r);
    }
  }
}

StatusOr<std::unique_ptr<SpendTracker>> SpendTracker::Create(Ledger* ledger, const Clock& clock) {
  std::unique_ptr<SpendTracker> tracker(new SpendTracker(ledger, clock));
  const int64_t now = tracker->NowMs();
  if (ledger == nullptr) {
    std::lock_guard<std::mutex> lock(tracker->mu_);
    tracker->latest_ms_ = now;
    tracker->day_ = DayIndex(now);
    tracker->month_ = MonthIndex(now);
    return tracker;
  }
  // Lock order: the ledger's apply lock, then mu_ (the listener runs under the former).
  auto sums = ledger->SumWindows(now);
  if (!sums.ok()) return sums.status();
  {
    std::lock_guard<std::mutex> lock(tracker->mu_);
    tracker->latest_ms_ = now;
    tracker->day_ = DayIndex(now);
    tracker->month_ = MonthIndex(now);
    tracker->keys_.insert(sums->keys.begin(), sums->keys.end());
    tracker->backends_.insert(sums->backends.begin(), sums->backends.end());
  }
  SpendTracker* t = tracker.get();
  ledger->SetDuplicateListener(t, [t](const AttemptRecord& r) {
    std::lock_guard<std::mutex> lock(t->mu_);
    t->AddLocked(r, -1);
  });
  return tracker;
}

SpendTracker::~SpendTracker() {
  if (ledger_ != nullptr) ledger_->ClearDuplicateListener(this);
}

int64_t SpendTracker::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
      .count();
}

void SpendTracker::RollTo(int64_t ts_ms) const {
  if (ts_ms <= latest_ms_) return;
  latest_ms_ = ts_ms;
  const int64_t day = DayIndex(ts_ms);
  const int64_t month = MonthIndex(ts_ms);
  if (month != month_) {
    // A new month starts with nothing spent; keys reappear as they spend.
    keys_.clear();
    backends_.clear();
  } else if (day != day_) {
    for (auto& [name, t] : keys_) t.day_nano_usd = 0;
    for (auto& [name, t] : backends_) t.day_nano_usd = 0;
  }
  day_ = day;
  month_ = month;
}

void SpendTracker::AddLocked(const AttemptRecord& r, int sign) {
  RollTo(std::max(NowMs(), r.ts_ms));
  // A record of an earlier month (a caller-supplied old timestamp) is in the ledger for
  // its own window but does not touch the current budgets.
  if (MonthIndex(r.ts_ms) != month_) return;
  const int64_t cost = sign * ToNanoUsd(r.cost_usd);
  const bool today = DayIndex(r.ts_ms) == day_;
  for (auto [totals, name] : {std::pair{&keys_, &r.key_id}, std::pair{&backends_, &r.backend}}) {
    auto it = totals->find(*name);
    if (it == totals->end()) it = totals->emplace(*name, WindowTotals{}).first;
    it->second.month_nano_usd += cost;
    if (today) it->second.day_nano_usd += cost;
  }
}

StatusOr<Reservation> SpendTracker::Reserve(std::string_view key_id, const BudgetLimits& limits,
                                            double estimate_usd) {
  if (!std::isfinite(estimate_usd) || estimate_usd < 0 || estimate_usd >= kMaxEstimateUsd) {
    return InvalidArgument("budget reservation: estimate must be finite and >= 0");
  }
  std::string key = KeyOrAnonymous(key_id);
  const int64_t estimate = ToNanoUsd(estimate_usd);

  std::lock_guard<std::mutex> lock(mu_);
  RollTo(NowMs());
  auto res = reserved_.find(key);
  const int64_t reserved = res == reserved_.end() ? 0 : res->second.nano_usd;
  struct Window {
    const char* name;
    const std::optional<double>& limit;
    bool day;
  };
  for (const Window& w :
       {Window{"daily", limits.daily_usd, true}, Window{"monthly", limits.monthly_usd, false}}) {
    if (!w.limit) continue;
    const int64_t limit = ToNanoUsd(*w.limit);
    const int64_t used = Lookup(keys_, key, w.day) + reserved;
    if (used + estimate > limit) {
      return ResourceExhausted(fmt::format("{} budget of key '{}' exhausted: {} left of {}", w.name,
                                           key, FormatUsd(FromNanoUsd(Left(limit, used))),
                                           FormatUsd(*w.limit)));
    }
  }
  ReservationStats& stats = reserved_[key];
  stats.count += 1;
  stats.nano_usd += estimate;
  return Reservation(this, std::move(key), estimate);
}

void SpendTracker::Release(const std::string& key_id, int64_t nano_usd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reserved_.find(key_id);
  if (it == reserved_.end()) return;  // cannot happen: every handle was counted
  it->second.count -= 1;
  it->second.nano_usd -= nano_usd;
  if (it->second.count <= 0) reserved_.erase(it);
}

BudgetRemaining SpendTracker::Remaining(std::string_view key_id, const BudgetLimits& limits) const {
  const std::string key = KeyOrAnonymous(key_id);
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  RollTo(now);
  auto res = reserved_.find(key);
  const int64_t reserved = res == reserved_.end() ? 0 : res->second.nano_usd;
  BudgetRemaining out;
  if (limits.daily_usd) {
    out.day_usd =
        FromNanoUsd(Left(ToNanoUsd(*limits.daily_usd), Lookup(keys_, key, true) + reserved));
  }
  if (limits.monthly_usd) {
    out.month_usd =
        FromNanoUsd(Left(ToNanoUsd(*limits.monthly_usd), Lookup(keys_, key, false) + reserved));
  }
  return out;
}

WindowSums SpendTracker::Totals() const {
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  RollTo(now);
  WindowSums sums;
  sums.day = DayLabel(latest_ms_);
  sums.month = MonthLabel(latest_ms_);
  sums.keys.insert(keys_.begin(), keys_.end());
  sums.backends.insert(backends_.begin(), backends_.end());
  return sums;
}

ReservationStats SpendTracker::Outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  ReservationStats total;
  for (const auto& [key, stats] : reserved_) {
    total.count += stats.count;
    total.nano_usd += stats.nano_usd;
  }
  return total;
}

size_t SpendTracker::Unpersisted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unpersisted_.size();
}

}  // namespace signalbox::budget
