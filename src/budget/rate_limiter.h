// RateLimiter: per-key request limits — requests and tokens per sliding minute (`rpm`,
// `tpm`) and requests in flight (`max_parallel`) — checked and taken in one atomic step
// when a request is admitted, settled when it ends.
//
// An interface so that the state can live in this process (LocalRateLimiter, exact) or
// in Redis shared by every replica (cluster/), without the request path changing.
// Implementations are thread-safe and long-lived: they outlive config reloads (limits
// come from the caller's snapshot on every call), so a reload that changes a key's
// limits keeps what the key has used.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"

namespace signalbox::budget {

// A key's limits; nullopt = unlimited.
struct RateLimits {
  std::optional<int64_t> rpm;           // requests admitted per sliding 60 s
  std::optional<int64_t> tpm;           // tokens (input + output) per sliding 60 s
  std::optional<int64_t> max_parallel;  // requests in flight
  bool any() const { return rpm || tpm || max_parallel; }
};

enum class LimitKind { kRequests, kTokens, kParallel };
// The `limit` label of signalbox_rate_limited_total: "rpm", "tpm", "max_parallel".
std::string_view LimitLabel(LimitKind k);

// A key's usage against its limits, for the x-ratelimit-* headers and the decision JSON.
// A field is set only when its limit is.
struct RateLimitState {
  std::optional<int64_t> limit_requests, remaining_requests;
  std::optional<int64_t> limit_tokens, remaining_tokens;
  std::optional<int64_t> max_parallel, in_flight;
};

// The state of a key that used `requests` and `tokens` in the last minute and has
// `in_flight` requests now, against `limits`.
RateLimitState LimitStateOf(const RateLimits& limits, int64_t requests, int64_t tokens,
                            int64_t in_flight);

// Why a request was not admitted.
struct RateDenial {
  LimitKind kind = LimitKind::kRequests;
  int retry_after_s = 1;  // when the limit will let a request like this one through
  bool never = false;     // the request's own estimate exceeds tpm: waiting cannot help
  std::string message;
};

class RateLimiter;

// One admitted request's hold on its key's limits: its place in the minute's request and
// token counts, and its max_parallel slot. Move-only, one-per-request. Finish() (or the
// destructor) frees the slot and replaces the token estimate by the actual count, so no
// exit path can leak a slot.
class RateTicket {
 public:
  RateTicket() = default;
  ~RateTicket() { Finish(std::nullopt); }
  RateTicket(RateTicket&& o) noexcept { *this = std::move(o); }
  RateTicket& operator=(RateTicket&& o) noexcept;
  RateTicket(const RateTicket&) = delete;
  RateTicket& operator=(const RateTicket&) = delete;

  // Settles the tokens (nullopt keeps the estimate) and frees the slot. Idempotent.
  void Finish(std::optional<int64_t> actual_tokens);
  bool active() const { return limiter_ != nullptr; }

 private:
  friend class RateLimiter;
  RateLimiter* limiter_ = nullptr;
  std::string key_;
  std::string id_;
  int64_t estimate_ = 0;
};

struct Admitted {
  std::optional<RateDenial> denial;  // set: refused, `ticket` is empty
  RateTicket ticket;
  RateLimitState state;  // after this admission (or at the refusal)
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Atomically checks every limit of `limits` for `key` and, when all hold, takes one
  // request, `estimated_tokens` tokens and one slot. Unlimited keys always pass.
  virtual Admitted Admit(std::string_view key, const RateLimits& limits,
                         int64_t estimated_tokens) = 0;
  // The key's current state (no side effect).
  virtual RateLimitState State(std::string_view key, const RateLimits& limits) const = 0;

 protected:
  friend class RateTicket;
  // Called once per ticket by RateTicket::Finish().
  virtual void Finish(const std::string& key, const std::string& id, int64_t estimate,
                      std::optional<int64_t> actual) = 0;
  RateTicket MakeTicket(std::string key, std::string id, int64_t estimate);
};

// The limits of one process, exact: a sliding log of the last minute's admissions per key.
// At most `rpm` admissions and `tpm` tokens fall in any 60 s, and at most `max_parallel`
// tickets are held at once. Thread-safe (one mutex).
class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(const Clock& clock) : clock_(clock) {}
  Admitted Admit(std::string_view key, const RateLimits& limits, int64_t estimated_tokens) override;
  RateLimitState State(std::string_view key, const RateLimits& limits) const override;
  // Slots held over every key (the "no leak" invariant in tests).
  int64_t InFlight() const;

 private:
  struct Entry {
    uint64_t id;
    int64_t ts_ms;
    int64_t tokens;
  };
  struct KeyState {
    std::deque<Entry> log;  // admissions of the last 60 s, oldest first (ids ascending)
    int64_t tokens = 0;     // sum of log[].tokens
    int64_t in_flight = 0;
  };
  void Finish(const std::string& key, const std::string& id, int64_t estimate,
              std::optional<int64_t> actual) override;
  int64_t NowMs() const;
  static void Purge(KeyState& s, int64_t now_ms);
  static RateLimitState StateOf(const KeyState& s, const RateLimits& limits);

  const Clock& clock_;
  mutable std::mutex mu_;
  mutable std::map<std::string, KeyState, std::less<>> keys_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                       // GUARDED_BY(mu_)
};

// A denial's message and retry-after from the state the check saw (shared by the local
// and the Redis limiter, so both word refusals alike).
RateDenial MakeDenial(std::string_view key, LimitKind kind, const RateLimits& limits,
                      int64_t wait_ms, bool never);

}  // namespace signalbox::budget
