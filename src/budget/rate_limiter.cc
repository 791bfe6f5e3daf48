#include "budget/rate_limiter.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace signalbox::budget {
namespace {

constexpr int64_t kWindowMs = 60'000;

}  // namespace

std::string_view LimitLabel(LimitKind k) {
  switch (k) {
    case LimitKind::kRequests:
      return "rpm";
    case LimitKind::kTokens:
      return "tpm";
    case LimitKind::kParallel:
      return "max_parallel";
  }
  return "rpm";
}

RateDenial MakeDenial(std::string_view key, LimitKind kind, const RateLimits& limits,
                      int64_t wait_ms, bool never) {
  RateDenial d;
  d.kind = kind;
  d.never = never;
  d.retry_after_s = static_cast<int>(std::max<int64_t>(1, (wait_ms + 999) / 1000));
  switch (kind) {
    case LimitKind::kRequests:
      d.message =
          fmt::format("Rate limit reached for key '{}': {} requests per minute. Retry in {} s.",
                      key, limits.rpm.value_or(0), d.retry_after_s);
      break;
    case LimitKind::kTokens:
      d.message =
          never
              ? fmt::format(
                    "Request too large for key '{}': its estimated tokens exceed the limit of "
                    "{} tokens per minute. Lower max_tokens or shorten the prompt.",
                    key, limits.tpm.value_or(0))
              : fmt::format("Rate limit reached for key '{}': {} tokens per minute. Retry in {} s.",
                            key, limits.tpm.value_or(0), d.retry_after_s);
      break;
    case LimitKind::kParallel:
      d.message = fmt::format(
          "Too many requests in flight for key '{}': at most {} at a time. Retry when one "
          "finishes.",
          key, limits.max_parallel.value_or(0));
      break;
  }
  return d;
}

RateTicket& RateTicket::operator=(RateTicket&& o) noexcept {
  if (this != &o) {
    Finish(std::nullopt);
    limiter_ = std::exchange(o.limiter_, nullptr);
    key_ = std::move(o.key_);
    id_ = std::move(o.id_);
    estimate_ = o.estimate_;
  }
  return *this;
}

void RateTicket::Finish(std::optional<int64_t> actual_tokens) {
  if (limiter_ == nullptr) return;
  RateLimiter* l = std::exchange(limiter_, nullptr);
  l->Finish(key_, id_, estimate_, actual_tokens);
}

RateTicket RateLimiter::MakeTicket(std::string key, std::string id, int64_t estimate) {
  RateTicket t;
  t.limiter_ = this;
  t.key_ = std::move(key);
  t.id_ = std::move(id);
  t.estimate_ = estimate;
  return t;
}

int64_t LocalRateLimiter::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

void LocalRateLimiter::Purge(KeyState& s, int64_t now_ms) {
  while (!s.log.empty() && s.log.front().ts_ms <= now_ms - kWindowMs) {
    s.tokens -= s.log.front().tokens;
    s.log.pop_front();
  }
}

RateLimitState LimitStateOf(const RateLimits& limits, int64_t requests, int64_t tokens,
                            int64_t in_flight) {
  RateLimitState st;
  if (limits.rpm) {
    st.limit_requests = *limits.rpm;
    st.remaining_requests = std::max<int64_t>(0, *limits.rpm - requests);
  }
  if (limits.tpm) {
    st.limit_tokens = *limits.tpm;
    st.remaining_tokens = std::max<int64_t>(0, *limits.tpm - tokens);
  }
  if (limits.max_parallel) {
    st.max_parallel = *limits.max_parallel;
    st.in_flight = in_flight;
  }
  return st;
}

RateLimitState LocalRateLimiter::StateOf(const KeyState& s, const RateLimits& limits) {
  return LimitStateOf(limits, static_cast<int64_t>(s.log.size()), s.tokens, s.in_flight);
}

// The check, in order: a free slot, a request left in the minute, room for the estimate
// in the minute's tokens. The wait reported is exact for the log: the time until the
// oldest admissions leave the window and free what this request needs.
Admitted LocalRateLimiter::Admit(std::string_view key, const RateLimits& limits,
                                 int64_t estimated_tokens) {
  Admitted out;
  if (!limits.any()) return out;
  estimated_tokens = std::max<int64_t>(0, estimated_tokens);
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), KeyState{}).first;
  KeyState& s = it->second;
  Purge(s, now);
  if (limits.max_parallel && s.in_flight >= *limits.max_parallel) {
    out.denial = MakeDenial(key, LimitKind::kParallel, limits, 1000, false);
  } else if (limits.rpm && static_cast<int64_t>(s.log.size()) >= *limits.rpm) {
    // The request that frees a place is number size - rpm + 1 from the oldest.
    const Entry& e = s.log[s.log.size() - static_cast<size_t>(*limits.rpm)];
    out.denial = MakeDenial(key, LimitKind::kRequests, limits, e.ts_ms + kWindowMs - now, false);
  } else if (limits.tpm && s.tokens + estimated_tokens > *limits.tpm) {
    bool never = estimated_tokens > *limits.tpm;
    int64_t wait = 1000, left = s.tokens;
    for (const Entry& e : s.log) {
      left -= e.tokens;
      if (left + estimated_tokens <= *limits.tpm) {
        wait = e.ts_ms + kWindowMs - now;
        break;
      }
    }
    out.denial = MakeDenial(key, LimitKind::kTokens, limits, wait, never);
  }
  if (out.denial) {
    out.state = StateOf(s, limits);
    return out;
  }
  const uint64_t id = next_id_++;
  s.log.push_back({id, now, estimated_tokens});
  s.tokens += estimated_tokens;
  s.in_flight += 1;
  out.state = StateOf(s, limits);
  out.ticket = MakeTicket(std::string(key), std::to_string(id), estimated_tokens);
  return out;
}

void LocalRateLimiter::Finish(const std::string& key, const std::string& id, int64_t,
                              std::optional<int64_t> actual) {
  const uint64_t n = std::stoull(id);
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return;  // cannot happen: a ticket's key stays
  KeyState& s = it->second;
  s.in_flight -= 1;
  Purge(s, now);
  if (actual) {
    // Ids grow with time: the entry, if still in the window, is found by binary search.
    auto e = std::lower_bound(s.log.begin(), s.log.end(), n,
                              [](const Entry& x, uint64_t v) { return x.id < v; });
    if (e != s.log.end() && e->id == n) {
      s.tokens += std::max<int64_t>(0, *actual) - e->tokens;
      e->tokens = std::max<int64_t>(0, *actual);
    }
  }
}

RateLimitState LocalRateLimiter::State(std::string_view key, const RateLimits& limits) const {
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return StateOf(KeyState{}, limits);
  Purge(it->second, now);
  return StateOf(it->second, limits);
}

int64_t LocalRateLimiter::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [k, s] : keys_) n += s.in_flight;
  return n;
}

}  // namespace signalbox::budget
