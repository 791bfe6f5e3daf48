// CircuitBreaker: passive health of one deployment of a backend (outlier ejection, after
// Envoy); a backend with one url has one deployment.
//
// Thread-safe; long-lived (survives config reloads for a deployment whose backend name
// and url stay).
// After `failures` consecutive failures the circuit opens: the backend is skipped for
// a cool-down that doubles with each consecutive ejection (capped at 10x). When the
// cool-down ends the circuit is half-open: exactly one request (the probe) is let
// through; its success closes the circuit, its failure re-opens it. Separately, a 429
// with retry-after makes the backend skip requests until that time without counting as
// a failure (it is healthy, just busy). Time comes from an injected Clock.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "config/config.h"

namespace signalbox {

enum class CircuitState { kClosed, kOpen, kHalfOpen };
std::string_view CircuitStateName(CircuitState s);

class CircuitBreaker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  CircuitBreaker(const Clock& clock, CircuitConfig cfg, std::string name = "")
      : clock_(clock), name_(std::move(name)), cfg_(cfg) {}

  // Applies a new config (reload); the state is kept.
  void Configure(const CircuitConfig& cfg);

  struct Admission {
    bool allowed = true;
    bool probe = false;     // this request is the half-open probe
    std::string reason;     // why not allowed: "circuit open", "rate limited"
    int retry_after_s = 0;  // for rate limits: seconds until the backend takes requests
  };
  Admission Admit();
  // `was_probe` from the Admission of the finished request.
  void OnSuccess(bool was_probe);
  void OnFailure(bool was_probe);
  // The backend answered 429; skip it until now + retry_after (without ejecting it).
  void OnRateLimited(std::chrono::milliseconds retry_after);
  // The probe ended without a verdict (its client left, it was never sent): the next
  // request may probe instead.
  void ReleaseProbe();
  // An active health check passed: an open circuit closes at once (the backend is back).
  void OnHealthy();

  CircuitState state() const;
  int consecutive_failures() const;
  int ejections() const;
  // A probe that has not reported for this long is presumed lost; another may start.
  static constexpr std::chrono::seconds kProbeTimeout{30};
  // True if Admit() would refuse now (for /readyz and panic decisions).
  bool Unavailable() const;
  // Seconds (>= 1) until a 429's retry-after ends, or 0 when not rate limited.
  int RateLimitedSeconds() const;

 private:
  void OpenLocked(TimePoint now);

  const Clock& clock_;
  const std::string name_;  // backend name, for log lines
  mutable std::mutex mu_;
  CircuitConfig cfg_;
  CircuitState state_ = CircuitState::kClosed;
  int failures_ = 0;
  int ejections_ = 0;  // consecutive ejections (reset when a probe succeeds)
  TimePoint open_until_{};
  TimePoint rate_limited_until_{};
  bool probe_in_flight_ = false;
  TimePoint probe_started_{};  // a probe silent for kProbeTimeout is presumed lost
};

}  // namespace signalbox
