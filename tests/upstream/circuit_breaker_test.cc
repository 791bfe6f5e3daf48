// CircuitBreaker with a FakeClock: consecutive failures open it, the cool-down doubles
// per consecutive ejection (capped at 10x), half-open admits exactly one probe, a 429's
// retry-after skips the backend without ejecting it, health checks close it.
#include "upstream/circuit_breaker.h"

#include <catch2/catch.hpp>

#include "common/clock.h"
#include "common/log.h"

using namespace signalbox;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The breaker logs every transition; keep the test output readable.
struct QuietLogs {
  LogLevel prev = GetLogLevel();
  QuietLogs() { SetLogLevel(LogLevel::kOff); }
  ~QuietLogs() { SetLogLevel(prev); }
};

CircuitConfig Cfg(int failures, Duration cooldown) {
  CircuitConfig c;
  c.failures = failures;
  c.cooldown = cooldown;
  return c;
}

// Opens `cb` with `n` failures.
void Fail(CircuitBreaker& cb, int n) {
  for (int i = 0; i < n; ++i) cb.OnFailure(false);
}

}  // namespace

TEST_CASE("circuit: closed by default, admits every request, no probes", "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(2, seconds(1)), "b");
  CHECK(cb.state() == CircuitState::kClosed);
  for (int i = 0; i < 5; ++i) {
    auto a = cb.Admit();
    CHECK(a.allowed);
    CHECK_FALSE(a.probe);
  }
  CHECK_FALSE(cb.Unavailable());
  CHECK(cb.consecutive_failures() == 0);
}

TEST_CASE("circuit: `failures` consecutive failures open it, a success in between resets the count",
          "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(3, seconds(1)), "b");
  Fail(cb, 2);
  cb.OnSuccess(false);
  CHECK(cb.consecutive_failures() == 0);
  Fail(cb, 2);
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.Admit().allowed);
  cb.OnFailure(false);
  CHECK(cb.state() == CircuitState::kOpen);
  CHECK(cb.Unavailable());
  CHECK(cb.ejections() == 1);
  auto a = cb.Admit();
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after_s == 0);  // not a rate limit
  CHECK_FALSE(a.reason.empty());
}

TEST_CASE(
    "circuit: after the cool-down exactly one probe is admitted, its success closes the circuit",
    "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(2, seconds(1)), "b");
  Fail(cb, 2);
  clock.Advance(milliseconds(999));
  CHECK_FALSE(cb.Admit().allowed);
  CHECK(cb.state() == CircuitState::kOpen);
  clock.Advance(milliseconds(1));
  CHECK(cb.state() == CircuitState::kHalfOpen);
  CHECK_FALSE(cb.Unavailable());
  auto probe = cb.Admit();
  CHECK(probe.allowed);
  CHECK(probe.probe);
  // While the probe is out, everyone else is refused.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(cb.Admit().allowed);
  cb.OnSuccess(probe.probe);
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.ejections() == 0);
  auto a = cb.Admit();
  CHECK(a.allowed);
  CHECK_FALSE(a.probe);
  // Closed again with a fresh count: one failure does not re-open it.
  cb.OnFailure(false);
  CHECK(cb.state() == CircuitState::kClosed);
}

TEST_CASE("circuit: a failed probe re-opens it at once, whatever the failure count",
          "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(3, seconds(1)), "b");
  Fail(cb, 3);
  clock.Advance(seconds(1));
  auto probe = cb.Admit();
  REQUIRE(probe.probe);
  cb.OnFailure(probe.probe);
  CHECK(cb.state() == CircuitState::kOpen);
  CHECK(cb.ejections() == 2);
  CHECK_FALSE(cb.Admit().allowed);
}

TEST_CASE(
    "circuit: consecutive ejections give cool-downs of 1, 2, 4, 8, 10, 10 x the configured one",
    "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(1, seconds(1)), "b");
  cb.OnFailure(false);
  CHECK(cb.ejections() == 1);
  int64_t cooldown_s[] = {1, 2, 4, 8, 10, 10};
  for (size_t i = 0; i < std::size(cooldown_s); ++i) {
    INFO("ejection " << i + 1);
    clock.Advance(seconds(cooldown_s[i]) - milliseconds(1));
    CHECK_FALSE(cb.Admit().allowed);
    clock.Advance(milliseconds(1));
    auto probe = cb.Admit();
    REQUIRE(probe.allowed);
    REQUIRE(probe.probe);
    if (i + 1 < std::size(cooldown_s)) {
      cb.OnFailure(probe.probe);
      CHECK(cb.ejections() == static_cast<int>(i) + 2);
    } else {
      cb.OnSuccess(probe.probe);
    }
  }
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.ejections() == 0);
  // After recovery the ladder starts again at 1x.
  cb.OnFailure(false);
  clock.Advance(seconds(1));
  CHECK(cb.Admit().probe);
}

TEST_CASE("circuit: a 429 retry-after skips the backend until then without ejecting it",
          "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(2, seconds(30)), "b");
  cb.OnFailure(false);
  cb.OnRateLimited(milliseconds(2500));
  auto a = cb.Admit();
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after_s == 3);  // rounded up
  CHECK(cb.Unavailable());
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.consecutive_failures() == 1);  // a 429 is not a failure
  clock.Advance(milliseconds(1600));
  a = cb.Admit();
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after_s == 1);
  clock.Advance(milliseconds(900));
  CHECK_FALSE(cb.Unavailable());
  a = cb.Admit();
  CHECK(a.allowed);
  CHECK_FALSE(a.probe);
  // A shorter later retry-after does not shorten the window.
  cb.OnRateLimited(seconds(5));
  cb.OnRateLimited(seconds(1));
  clock.Advance(seconds(4));
  CHECK_FALSE(cb.Admit().allowed);
  clock.Advance(seconds(1));
  CHECK(cb.Admit().allowed);
}

TEST_CASE("circuit: a 429 on the half-open probe frees the probe slot", "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(1, seconds(1)), "b");
  cb.OnFailure(false);
  clock.Advance(seconds(1));
  auto probe = cb.Admit();
  REQUIRE(probe.probe);
  cb.OnRateLimited(seconds(2));
  CHECK_FALSE(cb.Admit().allowed);  // rate limited
  clock.Advance(seconds(2));
  auto next = cb.Admit();
  CHECK(next.allowed);
  CHECK(next.probe);  // still half-open: the next request is the new probe
}

TEST_CASE("circuit: a passing health check closes an open circuit at once", "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(1, seconds(30)), "b");
  cb.OnFailure(false);
  CHECK(cb.state() == CircuitState::kOpen);
  cb.OnHealthy();
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.ejections() == 0);
  auto a = cb.Admit();
  CHECK(a.allowed);
  CHECK_FALSE(a.probe);
}

TEST_CASE("circuit: Configure keeps the state and applies the new threshold",
          "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(5, seconds(1)), "b");
  Fail(cb, 3);
  cb.Configure(Cfg(4, seconds(1)));
  CHECK(cb.consecutive_failures() == 3);
  CHECK(cb.state() == CircuitState::kClosed);
  cb.OnFailure(false);
  CHECK(cb.state() == CircuitState::kOpen);
  // An open circuit stays open across a reconfiguration.
  cb.Configure(Cfg(10, seconds(1)));
  CHECK(cb.state() == CircuitState::kOpen);
}

TEST_CASE(
    "circuit: a failure while closed below the threshold never ejects, 4xx-like successes reset",
    "[upstream][circuit]") {
  QuietLogs quiet;
  FakeClock clock;
  CircuitBreaker cb(clock, Cfg(2, seconds(1)), "b");
  for (int i = 0; i < 10; ++i) {
    cb.OnFailure(false);
    cb.OnSuccess(false);
  }
  CHECK(cb.state() == CircuitState::kClosed);
  CHECK(cb.ejections() == 0);
}
