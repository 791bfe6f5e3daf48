#include "upstream/circuit_breaker.h"

#include <algorithm>
#include <cmath>

#include "common/log.h"

namespace signalbox {

std::string_view CircuitStateName(CircuitState s) {
  switch (s) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

void CircuitBreaker::Configure(const CircuitConfig& cfg) {
  std::lock_guard<std::mutex> lk(mu_);
  cfg_ = cfg;
}

CircuitBreaker::Admission CircuitBreaker::Admit() {
  std::lock_guard<std::mutex> lk(mu_);
  auto now = clock_.Now();
  Admission a;
  if (now < rate_limited_until_) {
    a.allowed = false;
    a.reason = "rate limited (retry-after)";
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(rate_limited_until_ - now);
    a.retry_after_s = static_cast<int>(std::max<int64_t>(1, (left.count() + 999) / 1000));
    return a;
  }
  if (state_ == CircuitState::kOpen) {
    if (now < open_until_) {
      a.allowed = false;
      a.reason = "circuit open";
      return a;
    }
    state_ = CircuitState::kHalfOpen;
    probe_in_flight_ = false;
    Log(LogLevel::kInfo, "circuit half-open: sending one probe request").Field("backend", name_);
  }
  if (state_ == CircuitState::kHalfOpen) {
    if (probe_in_flight_ && now - probe_started_ < kProbeTimeout) {
      a.allowed = false;
      a.reason = "circuit half-open (probe in flight)";
      return a;
    }
    probe_in_flight_ = true;
    probe_started_ = now;
    a.probe = true;
  }
  return a;
}

void CircuitBreaker::OpenLocked(TimePoint now) {
  ++ejections_;
  double mult = std::min(10.0, std::pow(2.0, ejections_ - 1));
  auto cooldown =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(cfg_.cooldown * mult);
  state_ = CircuitState::kOpen;
  open_until_ = now + cooldown;
  probe_in_flight_ = false;
  Log(LogLevel::kWarn, "circuit opened: backend skipped during cool-down")
      .Field("backend", name_)
      .Field("consecutive_failures", failures_)
      .Field("cooldown_ms",
             static_cast<int64_t>(
                 std::chrono::duration_cast<std::chrono::milliseconds>(cooldown).count()))
      .Field("ejections", ejections_);
}

void CircuitBreaker::OnSuccess(bool was_probe) {
  std::lock_guard<std::mutex> lk(mu_);
  failures_ = 0;
  if (was_probe || state_ == CircuitState::kHalfOpen) {
    if (state_ != CircuitState::kClosed)
      Log(LogLevel::kInfo, "circuit closed: backend healthy again").Field("backend", name_);
    state_ = CircuitState::kClosed;
    ejections_ = 0;
    probe_in_flight_ = false;
  }
}

void CircuitBreaker::ReleaseProbe() {
  std::lock_guard<std::mutex> lk(mu_);
  probe_in_flight_ = false;
}

void CircuitBreaker::OnHealthy() {
  std::lock_guard<std::mutex> lk(mu_);
  failures_ = 0;
  if (state_ != CircuitState::kClosed) {
    Log(LogLevel::kInfo, "circuit closed by a passing health check").Field("backend", name_);
    state_ = CircuitState::kClosed;
    ejections_ = 0;
    probe_in_flight_ = false;
  }
}

void CircuitBreaker::OnFailure(bool was_probe) {
  std::lock_guard<std::mutex> lk(mu_);
  auto now = clock_.Now();
  ++failures_;
  if (was_probe || state_ == CircuitState::kHalfOpen) {
    OpenLocked(now);
    return;
  }
  if (state_ == CircuitState::kClosed && failures_ >= cfg_.failures) OpenLocked(now);
}

void CircuitBreaker::OnRateLimited(std::chrono::milliseconds retry_after) {
  std::lock_guard<std::mutex> lk(mu_);
  auto until = clock_.Now() + retry_after;
  rate_limited_until_ = std::max(rate_limited_until_, until);
  if (state_ == CircuitState::kHalfOpen) probe_in_flight_ = false;
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (state_ == CircuitState::kOpen && clock_.Now() >= open_until_) return CircuitState::kHalfOpen;
  return state_;
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard<std::mutex> lk(mu_);
  return failures_;
}

int CircuitBreaker::ejections() const {
  std::lock_guard<std::mutex> lk(mu_);
  return ejections_;
}

bool CircuitBreaker::Unavailable() const {
  std::lock_guard<std::mutex> lk(mu_);
  auto now = clock_.Now();
  if (now < rate_limited_until_) return true;
  if (state_ == CircuitState::kHalfOpen && probe_in_flight_ && now - probe_started_ < kProbeTimeout)
    return true;
  return state_ == CircuitState::kOpen && now < open_until_;
}

int CircuitBreaker::RateLimitedSeconds() const {
  std::lock_guard<std::mutex> lk(mu_);
  auto now = clock_.Now();
  if (now >= rate_limited_until_) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(rate_limited_until_ - now);
  return static_cast<int>(std::max<int64_t>(1, (left.count() + 999) / 1000));
}

}  // namespace signalbox
