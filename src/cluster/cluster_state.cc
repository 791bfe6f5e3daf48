#include "cluster/cluster_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "budget/budget_window.h"
#include "budget/money.h"
#include "cluster/scripts.h"
#include "common/log.h"

namespace signalbox::cluster {
namespace {

std::string RandomHex(int bytes) {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (uint64_t{std::random_device{}()} << 32));
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", static_cast<unsigned>(rng() & 0xff));
  return out;
}

std::string Opt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "-1"; }
std::string OptUsd(const std::optional<double>& v) {
  return v ? std::to_string(budget::ToNanoUsd(*v)) : "-1";
}

}  // namespace

ClusterState::ClusterState(ClusterOptions options, budget::SpendTracker* spend, const Clock& clock)
    : opt_(std::move(options)),
      spend_(spend),
      clock_(clock),
      redis_(opt_.endpoint),
      incarnation_(opt_.replica_id + "." + RandomHex(4)),
      local_limits_(clock) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowMs();
  day_ = budget::DayIndex(now);
  month_ = budget::MonthIndex(now);
  if (spend_ != nullptr) {
    // This replica's ledger: what it contributes when Redis must be rebuilt.
    budget::WindowSums sums = spend_->Totals();
    for (const auto& [k, t] : sums.keys) totals_["k:" + k] = {t.day_nano_usd, t.month_nano_usd};
    for (const auto& [b, t] : sums.backends) {
      totals_["b:" + b] = {t.day_nano_usd, t.month_nano_usd};
    }
  }
  pending_day_ = day_;
  pending_month_ = month_;
}

ClusterState::~ClusterState() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterState::Start() {
  if (Sync()) {
    Log(LogLevel::kInfo, "cluster: joined the shared state in Redis")
        .Field("replica", incarnation_);
  }
  thread_ = std::thread([this] { Run(); });
}

int64_t ClusterState::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
      .count();
}

void ClusterState::RollLocked(int64_t now_ms) {
  const int64_t day = budget::DayIndex(now_ms), month = budget::MonthIndex(now_ms);
  if (month != month_) {
    totals_.clear();
  } else if (day != day_) {
    for (auto& [name, t] : totals_) t.first = 0;
  }
  day_ = day;
  month_ = month;
  if (pending_month_ != month_) {
    pending_.clear();  // a month that ended: its totals no longer limit anything
  } else if (pending_day_ != day_) {
    for (auto& [name, t] : pending_) t.first = 0;
  }
  pending_day_ = day_;
  pending_month_ = month_;
}

void ClusterState::AddPendingLocked(const std::string& name, int64_t nano) {
  auto& p = pending_[name];
  p.first += nano;
  p.second += nano;
}

int64_t ClusterState::LocalUsedLocked(const std::string& key, bool day) const {
  auto it = totals_.find("k:" + key);
  int64_t own = it == totals_.end() ? 0 : (day ? it->second.first : it->second.second);
  auto s = seen_.find(key);
  if (s != seen_.end() && (day ? s->second.day == day_ : s->second.month == month_)) {
    own += day ? s->second.offset_day : s->second.offset_month;
  }
  return own;
}

void ClusterState::SeeLocked(const std::string& key, const RedisValue& r, size_t first) {
  // Reply fields from `first`: requests, tokens, in_flight, spent_day, spent_month, reserved.
  if (r.elements.size() < first + 6) return;
  SeenEntry& s = seen_[key];
  s.requests = r.elements[first].AsInt();
  s.tokens = r.elements[first + 1].AsInt();
  s.in_flight = r.elements[first + 2].AsInt();
  auto own = totals_.find("k:" + key);
  s.day = day_;
  s.month = month_;
  s.offset_day = r.elements[first + 3].AsInt() - (own == totals_.end() ? 0 : own->second.first);
  s.offset_month = r.elements[first + 4].AsInt() - (own == totals_.end() ? 0 : own->second.second);
  s.reserved = r.elements[first + 5].AsInt();
}

void ClusterState::MarkDown(const Status& why) {
  if (up_.exchange(false)) {
    Log(LogLevel::kWarn, opt_.reject_when_down
                             ? "cluster: Redis unavailable; refusing requests (on_unavailable: "
                               "reject) until it answers"
                             : "cluster: Redis unavailable; serving on this replica's own state "
                               "(on_unavailable: local) until it answers")
        .Field("error", why.message());
  }
  wake_.notify_all();
}

ClusterAdmission ClusterState::Admit(const std::string& key, const budget::RateLimits& rate,
                                     const budget::BudgetLimits& budget, int64_t tokens,
                                     double estimate_usd) {
  const int64_t estimate = budget::ToNanoUsd(std::max(0.0, estimate_usd));
  tokens = std::max<int64_t>(0, tokens);
  auto unavailable = [&] {
    ClusterAdmission a;
    a.verdict = ClusterAdmission::Verdict::kUnavailable;
    a.message = "The gateway's shared state (Redis) is unavailable; retry shortly.";
    return a;
  };
  if (!up()) {
    if (opt_.reject_when_down) return unavailable();
    return AdmitLocal(key, rate, budget, tokens, estimate);
  }
  const int64_t now = NowMs();
  std::string gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RollLocked(now);
    gen = gen_;
  }
  const std::string id = fmt::format("{}|{}", incarnation_, next_ticket_.fetch_add(1));
  auto r = redis_.Eval(
      AdmitScript(),
      {opt_.prefix, gen, incarnation_, id, key, std::to_string(budget::DayIndex(now)),
       std::to_string(budget::MonthIndex(now)), OptUsd(budget.daily_usd),
       OptUsd(budget.monthly_usd), std::to_string(estimate), Opt(rate.rpm), Opt(rate.tpm),
       Opt(rate.max_parallel), std::to_string(tokens), std::to_string(opt_.lease.count())});
  if (!r.ok() || r->is_error() || r->elements.empty()) {
    MarkDown(r.ok() ? Internal("admission script: " + r->str) : r.status());
    if (opt_.reject_when_down) return unavailable();
    return AdmitLocal(key, rate, budget, tokens, estimate);
  }
  const std::string& verdict = r->elements[0].str;
  if (verdict == "GEN" || r->elements.size() < 10) {
    MarkDown(Unavailable("Redis lost the shared state (a new generation): rebuilding"));
    if (opt_.reject_when_down) return unavailable();
    return AdmitLocal(key, rate, budget, tokens, estimate);
  }
  ClusterAdmission a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SeeLocked(key, *r, 4);
  }
  a.state = State(key, rate);
  a.ticket.key = key;
  if (verdict == "OK") {
    a.ticket.id = id;
    a.ticket.settled = false;
    return a;
  }
  const std::string& what = r->elements[1].str;
  const int64_t wait = r->elements[2].AsInt();
  if (verdict == "LIMIT") {
    a.verdict = ClusterAdmission::Verdict::kLimited;
    budget::LimitKind kind = what == "rpm"   ? budget::LimitKind::kRequests
                             : what == "tpm" ? budget::LimitKind::kTokens
                                             : budget::LimitKind::kParallel;
    a.denial = budget::MakeDenial(key, kind, rate, wait, r->elements[3].AsInt() != 0);
  } else {
    a.verdict = ClusterAdmission::Verdict::kBudget;
    const bool daily = what == "daily";
    a.message = fmt::format(
        "{} budget of key '{}' exhausted: {} left of {}", daily ? "daily" : "monthly", key,
        budget::FormatUsd(budget::FromNanoUsd(wait)),
        budget::FormatUsd(daily ? budget.daily_usd.value_or(0) : budget.monthly_usd.value_or(0)));
  }
  return a;
}

// Redis unavailable, on_unavailable: local. Limits are enforced by this replica alone;
// the budget against the cluster totals last seen plus this replica's spend since, plus
// what it reserved itself (cluster/README.md: the bound during an outage).
ClusterAdmission ClusterState::AdmitLocal(const std::string& key, const budget::RateLimits& rate,
                                          const budget::BudgetLimits& budget, int64_t tokens,
                                          int64_t estimate) {
  local_admissions_.fetch_add(1, std::memory_order_relaxed);
  ClusterAdmission a;
  a.ticket.key = key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RollLocked(NowMs());
    const int64_t reserved = local_reserved_[key];
    for (const auto& [daily, limit] :
         {std::pair{true, budget.daily_usd}, std::pair{false, budget.monthly_usd}}) {
      if (!limit) continue;
      const int64_t used = LocalUsedLocked(key, daily) + reserved;
      if (used + estimate > budget::ToNanoUsd(*limit)) {
        a.verdict = ClusterAdmission::Verdict::kBudget;
        a.message = fmt::format(
            "{} budget of key '{}' exhausted: {} left of {}", daily ? "daily" : "monthly", key,
            budget::FormatUsd(
                budget::FromNanoUsd(std::max<int64_t>(0, budget::ToNanoUsd(*limit) - used))),
            budget::FormatUsd(*limit));
        return a;
      }
    }
  }
  budget::Admitted adm = local_limits_.Admit(key, rate, tokens);
  a.state = adm.state;
  if (adm.denial) {
    a.verdict = ClusterAdmission::Verdict::kLimited;
    a.denial = adm.denial;
    return a;
  }
  std::lock_guard<std::mutex> lock(mu_);
  local_reserved_[key] += estimate;
  a.ticket.local = std::move(adm.ticket);
  a.ticket.local_reserved = estimate;
  a.ticket.settled = false;
  return a;
}

void ClusterState::Settle(ClusterTicket& ticket, const std::string& key,
                          std::optional<int64_t> tokens, const std::vector<BackendCost>& costs) {
  int64_t total = 0;
  for (const auto& c : costs) total += c.nano_usd;
  const bool had_ticket = !ticket.settled;
  ticket.settled = true;
  ticket.local.Finish(tokens);
  const int64_t now = NowMs();
  std::string gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RollLocked(now);
    if (ticket.local_reserved != 0) {
      local_reserved_[key] -= ticket.local_reserved;
      ticket.local_reserved = 0;
    }
    totals_["k:" + key].first += total;
    totals_["k:" + key].second += total;
    for (const auto& c : costs) {
      totals_["b:" + c.backend].first += c.nano_usd;
      totals_["b:" + c.backend].second += c.nano_usd;
    }
    gen = gen_;
    if (!up()) {
      // Pushed when Redis answers again (or contributed by the rebuild).
      AddPendingLocked("k:" + key, total);
      for (const auto& c : costs) AddPendingLocked("b:" + c.backend, c.nano_usd);
      if (!ticket.id.empty()) pending_release_.emplace_back(key, ticket.id);
      return;
    }
  }
  if (!had_ticket && ticket.id.empty() && costs.empty()) return;  // nothing to tell Redis
  std::vector<std::string> args = {opt_.prefix,
                                   gen,
                                   ticket.id,
                                   key,
                                   std::to_string(budget::DayIndex(now)),
                                   std::to_string(budget::MonthIndex(now)),
                                   tokens ? std::to_string(*tokens) : "-1",
                                   std::to_string(total)};
  for (const auto& c : costs) {
    args.push_back(c.backend);
    args.push_back(std::to_string(c.nano_usd));
  }
  auto r = redis_.Eval(SettleScript(), args);
  if (r.ok() && !r->is_error() && r->elements.size() >= 4 && r->elements[0].str == "OK") {
    // The key's cluster totals as of this settle: what routing plans with next.
    std::lock_guard<std::mutex> lock(mu_);
    SeenEntry& seen = seen_[key];
    auto own = totals_.find("k:" + key);
    seen.day = day_;
    seen.month = month_;
    seen.offset_day = r->elements[1].AsInt() - (own == totals_.end() ? 0 : own->second.first);
    seen.offset_month = r->elements[2].AsInt() - (own == totals_.end() ? 0 : own->second.second);
    seen.reserved = r->elements[3].AsInt();
    return;
  }
  if (r.ok() && !r->is_error() && !r->elements.empty() && r->elements[0].str == "GEN") {
    // Redis lost its data: the rebuild contributes this replica's totals, this included.
    MarkDown(Unavailable("Redis lost the shared state (a new generation): rebuilding"));
    return;
  }
  MarkDown(r.ok() ? Internal("settle script: " + r->str) : r.status());
  std::lock_guard<std::mutex> lock(mu_);
  AddPendingLocked("k:" + key, total);
  for (const auto& c : costs) AddPendingLocked("b:" + c.backend, c.nano_usd);
  if (!ticket.id.empty()) pending_release_.emplace_back(key, ticket.id);
}

budget::RateLimitState ClusterState::State(const std::string& key,
                                           const budget::RateLimits& rate) const {
  if (!up()) return local_limits_.State(key, rate);
  std::lock_guard<std::mutex> lock(mu_);
  SeenEntry s;
  if (auto it = seen_.find(key); it != seen_.end()) s = it->second;
  return budget::LimitStateOf(rate, s.requests, s.tokens, s.in_flight);
}

budget::BudgetRemaining ClusterState::Remaining(const std::string& key,
                                                const budget::BudgetLimits& b) const {
  // Other replicas' reservations are left out: they are transient, and a stale view of
  // them would refuse requests Redis would admit. The admission script decides.
  std::lock_guard<std::mutex> lock(mu_);
  int64_t reserved = 0;
  if (auto it = local_reserved_.find(key); it != local_reserved_.end()) reserved = it->second;
  budget::BudgetRemaining out;
  if (b.daily_usd) {
    out.day_usd = budget::FromNanoUsd(std::max<int64_t>(
        0, budget::ToNanoUsd(*b.daily_usd) - LocalUsedLocked(key, true) - reserved));
  }
  if (b.monthly_usd) {
    out.month_usd = budget::FromNanoUsd(std::max<int64_t>(
        0, budget::ToNanoUsd(*b.monthly_usd) - LocalUsedLocked(key, false) - reserved));
  }
  return out;
}

}  // namespace signalbox::cluster
