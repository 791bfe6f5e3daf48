// LocalRateLimiter: exact per-key limits over a sliding minute, with a clock moved by hand.
#include "budget/rate_limiter.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace signalbox::budget {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RateLimits Limits(std::optional<int64_t> rpm, std::optional<int64_t> tpm,
                  std::optional<int64_t> parallel) {
  return RateLimits{rpm, tpm, parallel};
}

TEST_CASE("rpm admits exactly rpm requests in any 60 s and says when the next one may come",
          "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  const RateLimits lim = Limits(3, std::nullopt, std::nullopt);
  std::vector<RateTicket> held;
  for (int i = 0; i < 3; ++i) {
    Admitted a = l.Admit("k", lim, 10);
    REQUIRE_FALSE(a.denial);
    CHECK(a.state.limit_requests == 3);
    CHECK(a.state.remaining_requests == 2 - i);
    CHECK_FALSE(a.state.limit_tokens);
    held.push_back(std::move(a.ticket));
    clock.Advance(seconds(10));
  }
  // Admissions at 0, 10 and 20 s; now 30 s: the first leaves the window at 60 s.
  Admitted refused = l.Admit("k", lim, 10);
  REQUIRE(refused.denial);
  CHECK(refused.denial->kind == LimitKind::kRequests);
  CHECK(refused.denial->retry_after_s == 30);
  CHECK_FALSE(refused.denial->never);
  CHECK(refused.state.remaining_requests == 0);
  CHECK_FALSE(refused.ticket.active());
  held.clear();  // finishing does not give a request back: rpm counts admissions
  CHECK(l.Admit("k", lim, 10).denial);
  clock.Advance(seconds(30));  // 60 s: the first admission left
  Admitted again = l.Admit("k", lim, 10);
  CHECK_FALSE(again.denial);
  CHECK(again.state.remaining_requests == 0);
  // Another key has its own counts.
  CHECK_FALSE(l.Admit("other", lim, 10).denial);
}

TEST_CASE("tpm reserves the estimate at admission and settles it to the actual count",
          "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  const RateLimits lim = Limits(std::nullopt, 1000, std::nullopt);
  Admitted a = l.Admit("k", lim, 600);
  REQUIRE_FALSE(a.denial);
  CHECK(a.state.remaining_tokens == 400);
  Admitted b = l.Admit("k", lim, 500);  // 600 + 500 > 1000
  REQUIRE(b.denial);
  CHECK(b.denial->kind == LimitKind::kTokens);
  CHECK(b.denial->retry_after_s == 60);
  a.ticket.Finish(100);  // the upstream used 100 tokens, not 600
  CHECK(l.State("k", lim).remaining_tokens == 900);
  Admitted c = l.Admit("k", lim, 500);
  REQUIRE_FALSE(c.denial);
  CHECK(c.state.remaining_tokens == 400);
  // A request whose estimate alone exceeds tpm can never pass: said so, not "retry".
  Admitted big = l.Admit("k", lim, 1001);
  REQUIRE(big.denial);
  CHECK(big.denial->never);
  // The destructor keeps the estimate (nothing reported): 100 + 500 stay counted.
  c.ticket = RateTicket();
  CHECK(l.State("k", lim).remaining_tokens == 400);
  clock.Advance(seconds(60));
  CHECK(l.State("k", lim).remaining_tokens == 1000);
}

TEST_CASE("max_parallel holds the slot until the ticket ends, on every exit path",
          "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  const RateLimits lim = Limits(std::nullopt, std::nullopt, 2);
  {
    Admitted a = l.Admit("k", lim, 0);
    Admitted b = l.Admit("k", lim, 0);
    REQUIRE_FALSE(a.denial);
    REQUIRE_FALSE(b.denial);
    CHECK(b.state.in_flight == 2);
    Admitted c = l.Admit("k", lim, 0);
    REQUIRE(c.denial);
    CHECK(c.denial->kind == LimitKind::kParallel);
    CHECK(c.denial->retry_after_s == 1);
    CHECK(l.InFlight() == 2);
    RateTicket moved = std::move(a.ticket);  // a move hands the slot over, never twice
    moved.Finish(0);
    moved.Finish(0);
    CHECK(l.InFlight() == 1);
  }
  CHECK(l.InFlight() == 0);
  CHECK(l.State("k", lim).in_flight == 0);
}

TEST_CASE("a key's new limits apply to what it already used (reload keeps the counters)",
          "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  std::vector<RateTicket> held;
  for (int i = 0; i < 4; ++i) {
    Admitted a = l.Admit("k", Limits(10, 1000, 10), 100);
    REQUIRE_FALSE(a.denial);
    held.push_back(std::move(a.ticket));
  }
  // The "reloaded" limits: 5 rpm, 450 tpm, 4 in flight.
  const RateLimits lowered = Limits(5, 450, 4);
  RateLimitState st = l.State("k", lowered);
  CHECK(st.remaining_requests == 1);
  CHECK(st.remaining_tokens == 50);
  CHECK(st.in_flight == 4);
  Admitted refused = l.Admit("k", lowered, 10);
  REQUIRE(refused.denial);
  CHECK(refused.denial->kind == LimitKind::kParallel);
  held.pop_back();
  Admitted ok = l.Admit("k", lowered, 10);
  CHECK_FALSE(ok.denial);
  CHECK(ok.state.remaining_requests == 0);
}

TEST_CASE("concurrent admissions never exceed the limits", "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  const RateLimits lim = Limits(50, 5000, std::nullopt);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Admitted a = l.Admit("k", lim, 70);
        if (!a.denial) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  // 5000 / 70 = 71 tokens-wise, 50 requests-wise: rpm binds.
  CHECK(admitted.load() == 50);
  CHECK(l.InFlight() == 0);
}

TEST_CASE("an unlimited key is always admitted and holds nothing", "[budget][limits]") {
  FakeClock clock;
  LocalRateLimiter l(clock);
  for (int i = 0; i < 100; ++i) {
    Admitted a = l.Admit("k", RateLimits{}, 1'000'000);
    CHECK_FALSE(a.denial);
    CHECK_FALSE(a.ticket.active());
  }
  CHECK(l.InFlight() == 0);
}

}  // namespace
}  // namespace signalbox::budget
