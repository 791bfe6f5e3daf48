#include "budget/spend_tracker.h"

#include <errno.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <barrier>
#include <catch2/catch.hpp>
#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "budget/budget_test_util.h"
#include "budget/money.h"

namespace signalbox::budget {
namespace {

using testing::Record;
using testing::TempDir;
using testing::Utc;

std::unique_ptr<SpendTracker> MakeTracker(Ledger* ledger, const Clock& clock) {
  auto tracker = SpendTracker::Create(ledger, clock);
  INFO(tracker.status().ToString());
  REQUIRE(tracker.ok());
  return std::move(tracker).value();
}

void SettleOrDie(SpendTracker& tracker, const std::vector<AttemptRecord>& records) {
  Status s = tracker.Settle(records);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

int64_t DaySpent(const SpendTracker& tracker, const std::string& key) {
  auto sums = tracker.Totals();
  auto it = sums.keys.find(key);
  return it == sums.keys.end() ? 0 : it->second.day_nano_usd;
}

const BudgetLimits kDollarADay{1.0, std::nullopt};

TEST_CASE("tracker admits exactly what fits in the budget", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  const BudgetLimits limits{1.0, 5.0};
  SettleOrDie(*tracker, {Record("r1", 1, "team-a", "small", 0.7)});

  auto too_much = tracker->Reserve("team-a", limits, 0.3000001);
  CHECK(too_much.status().code() == StatusCode::kResourceExhausted);
  CHECK(too_much.status().message() ==
        "daily budget of key 'team-a' exhausted: $0.3000 left of $1.00");
  auto exact = tracker->Reserve("team-a", limits, 0.3);  // spent + estimate == limit: fits
  REQUIRE(exact.ok());
  CHECK(tracker->Remaining("team-a", limits).day_usd == 0.0);
  CHECK(tracker->Remaining("team-a", limits).month_usd == 4.0);
  // Another key has its own budget.
  CHECK(tracker->Reserve("team-b", limits, 1.0).ok());
}

TEST_CASE("tracker names the monthly budget when that one is exhausted", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  SettleOrDie(*tracker, {Record("r1", 1, "team-a", "small", 19.99, testing::UtcMs(2026, 11, 2))});
  auto r = tracker->Reserve("team-a", BudgetLimits{20.0, 20.0}, 0.5);
  CHECK(r.status().code() == StatusCode::kResourceExhausted);
  CHECK(r.status().message() == "monthly budget of key 'team-a' exhausted: $0.0100 left of $20.00");
}

TEST_CASE("tracker passes unlimited budgets and rejects bad estimates", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  SettleOrDie(*tracker, {Record("r1", 1, "team-a", "small", 1000)});
  auto r = tracker->Reserve("team-a", BudgetLimits{}, 500);
  CHECK(r.ok());
  BudgetRemaining left = tracker->Remaining("team-a", BudgetLimits{});
  CHECK(!left.day_usd.has_value());
  CHECK(!left.month_usd.has_value());
  CHECK(tracker->Reserve("team-a", BudgetLimits{}, -1).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(tracker->Reserve("team-a", BudgetLimits{}, std::numeric_limits<double>::infinity())
            .status()
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("tracker remaining is never negative after an overspend", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  // The estimate was too low: the actual cost went past the limit.
  SettleOrDie(*tracker, {Record("r1", 1, "team-a", "large", 1.5)});
  BudgetRemaining left = tracker->Remaining("team-a", kDollarADay);
  CHECK(left.day_usd == 0.0);
  auto r = tracker->Reserve("team-a", kDollarADay, 0);
  CHECK(r.status().message() == "daily budget of key 'team-a' exhausted: $0.0000 left of $1.00");
}

TEST_CASE("tracker releases a reservation on every exit path", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  {
    auto r = tracker->Reserve("team-a", kDollarADay, 0.6);
    REQUIRE(r.ok());
    CHECK(tracker->Outstanding().count == 1);
    CHECK(tracker->Outstanding().nano_usd == ToNanoUsd(0.6));
    CHECK(!tracker->Reserve("team-a", kDollarADay, 0.6).ok());  // 0.6 + 0.6 > 1
  }                                                             // destroyed: released
  CHECK(tracker->Outstanding().count == 0);
  CHECK(tracker->Reserve("team-a", kDollarADay, 0.6).ok());  // and released again

  // Moved handles release once; an exception unwinding through the request releases too.
  try {
    auto r = tracker->Reserve("team-a", kDollarADay, 0.5);
    REQUIRE(r.ok());
    Reservation moved = std::move(r).value();
    Reservation again = std::move(moved);
    CHECK(again.active());
    CHECK(!moved.active());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    CHECK(tracker->Outstanding().count == 1);
    throw std::runtime_error("handler failed");
  } catch (const std::runtime_error&) {
  }
  CHECK(tracker->Outstanding().count == 0);
  CHECK(tracker->Outstanding().nano_usd == 0);

  auto r = tracker->Reserve("team-a", kDollarADay, 0.5);
  REQUIRE(r.ok());
  r->Release();
  r->Release();  // idempotent
  CHECK(tracker->Outstanding().count == 0);
}

TEST_CASE("tracker admits exactly ten of twenty concurrent $0.10 requests on $1.00", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  // A known key and a key never seen before (LiteLLM #40095: first requests of an
  // unknown user raced past the default budget).
  for (const char* key : {"team-a", "never-seen"}) {
    constexpr int kThreads = 20;
    std::barrier start(kThreads);
    std::vector<std::optional<StatusOr<Reservation>>> results(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        results[t].emplace(tracker->Reserve(key, kDollarADay, 0.10));
      });
    }
    for (auto& th : threads) th.join();
    int admitted = 0;
    for (const auto& r : results) {
      REQUIRE(r.has_value());
      if (r->ok()) {
        ++admitted;
      } else {
        CHECK(r->status().code() == StatusCode::kResourceExhausted);
      }
    }
    CHECK(admitted == 10);
    CHECK(tracker->Outstanding().nano_usd == ToNanoUsd(1.0));
    results.clear();  // handles released
    CHECK(tracker->Outstanding().count == 0);
  }
}

TEST_CASE("tracker counts requests without a key as anonymous", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(nullptr, clock);
  auto r = tracker->Reserve("", kDollarADay, 0.25);
  REQUIRE(r.ok());
  CHECK(r->key_id() == "anonymous");
  SettleOrDie(*tracker, {Record("r1", 1, "", "small", 0.5)});
  CHECK(DaySpent(*tracker, "anonymous") == ToNanoUsd(0.5));
  CHECK(tracker->Remaining("", kDollarADay).day_usd == 0.25);
}

TEST_CASE("tracker settles durably, once, and stamps the time", "[budget]") {
  TempDir dir;
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto ledger = std::move(Ledger::Open(dir.File("ledger.db"))).value();
  auto tracker = MakeTracker(ledger.get(), clock);
  auto a1 = Record("req-1", 1, "team-a", "small", 0.000123);
  auto a2 = Record("req-1", 2, "team-a", "large", 0.0456);
  SettleOrDie(*tracker, {a1, a2});
  SettleOrDie(*tracker, {a1, a2});  // replayed settle (e.g. a retried commit)
  SettleOrDie(*tracker, {a2});
  REQUIRE(ledger->Flush().ok());  // replays of committed records are taken back by now
  CHECK(DaySpent(*tracker, "team-a") == ToNanoUsd(0.000123) + ToNanoUsd(0.0456));
  CHECK(*ledger->CountRecords() == 2);
  auto stored = ledger->Find("req-1", 2);
  REQUIRE(stored->has_value());
  CHECK((*stored)->ts_ms == testing::UtcMs(2026, 11, 26, 12));
  CHECK(tracker->Totals() == *ledger->SumWindows(testing::UtcMs(2026, 11, 26, 12)));
}

TEST_CASE("tracker rebuilds its windows from the ledger after a restart", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  FakeClock clock(Utc(2026, 11, 26, 12));
  {
    auto ledger = std::move(Ledger::Open(path)).value();
    auto tracker = MakeTracker(ledger.get(), clock);
    SettleOrDie(*tracker, {Record("r0", 1, "team-a", "small", 0.4, testing::UtcMs(2026, 11, 3))});
    SettleOrDie(*tracker, {Record("r1", 1, "team-a", "small", 0.5),
                           Record("r2", 1, "team-b", "large", 0.25)});
  }
  auto ledger = std::move(Ledger::Open(path)).value();
  auto tracker = MakeTracker(ledger.get(), clock);
  auto sums = tracker->Totals();
  CHECK(sums.keys.at("team-a") == WindowTotals{ToNanoUsd(0.5), ToNanoUsd(0.9)});
  CHECK(sums.keys.at("team-b") == WindowTotals{ToNanoUsd(0.25), ToNanoUsd(0.25)});
  CHECK(sums.backends.at("small") == WindowTotals{ToNanoUsd(0.5), ToNanoUsd(0.9)});
  // The budget is enforced with the spend from before the restart.
  CHECK(tracker->Reserve("team-a", kDollarADay, 0.6).status().code() ==
        StatusCode::kResourceExhausted);
}

TEST_CASE("tracker starts a new day and a new month at 00:00 UTC", "[budget]") {
  TempDir dir;
  auto ledger = std::move(Ledger::Open(dir.File("ledger.db"))).value();
  FakeClock clock(Utc(2026, 11, 30, 23, 59, 59));
  auto tracker = MakeTracker(ledger.get(), clock);
  const BudgetLimits limits{1.0, 1.5};
  SettleOrDie(*tracker, {Record("r1", 1, "team-a", "small", 0.9)});
  CHECK(!tracker->Reserve("team-a", limits, 0.2).ok());

  clock.Advance(std::chrono::seconds(1));  // 2026-12-01T00:00:00Z: new day and new month
  auto sums = tracker->Totals();
  CHECK(sums.day == "2026-12-01");
  CHECK(sums.month == "2026-12");
  CHECK(sums.keys.empty());
  CHECK(tracker->Remaining("team-a", limits).day_usd == 1.0);
  SettleOrDie(*tracker, {Record("r2", 1, "team-a", "small", 0.8)});
  CHECK(tracker->Totals() == *ledger->SumWindows(testing::UtcMs(2026, 12, 1)));

  clock.Advance(std::chrono::hours(24));  // new day, same month
  sums = tracker->Totals();
  CHECK(sums.keys.at("team-a") == WindowTotals{0, ToNanoUsd(0.8)});
  CHECK(tracker->Remaining("team-a", limits).day_usd == 1.0);
  CHECK(tracker->Remaining("team-a", limits).month_usd == Approx(0.7));
  auto r = tracker->Reserve("team-a", limits, 0.8);
  CHECK(r.status().message() == "monthly budget of key 'team-a' exhausted: $0.7000 left of $1.50");
  CHECK(tracker->Totals() == *ledger->SumWindows(testing::UtcMs(2026, 12, 2)));
  // A tracker started now agrees with the live one.
  CHECK(MakeTracker(ledger.get(), clock)->Totals() == tracker->Totals());
}

TEST_CASE("tracker keeps counting when the ledger write fails and retries it", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  int fail_with = 0;
  LedgerOptions options;
  options.spool_fault = [&] { return fail_with; };
  auto ledger = std::move(Ledger::Open(path, options)).value();
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(ledger.get(), clock);

  fail_with = EIO;
  Status s = tracker->Settle(std::vector<AttemptRecord>{Record("r1", 1, "team-a", "small", 0.75)});
  CHECK(s.code() == StatusCode::kUnavailable);
  // The spend happened upstream: the budget counts it although the file does not have it.
  CHECK(DaySpent(*tracker, "team-a") == ToNanoUsd(0.75));
  CHECK(tracker->Unpersisted() == 1);
  CHECK(!tracker->Reserve("team-a", kDollarADay, 0.5).ok());
  fail_with = 0;

  // The next settle carries the failed record along; each counts once.
  SettleOrDie(*tracker, {Record("r2", 1, "team-a", "small", 0.125)});
  CHECK(tracker->Unpersisted() == 0);
  CHECK(*ledger->CountRecords() == 2);
  CHECK(DaySpent(*tracker, "team-a") == ToNanoUsd(0.875));
  CHECK(tracker->Totals() == *ledger->SumWindows(testing::UtcMs(2026, 11, 26, 12)));
}

TEST_CASE("tracker and ledger agree after concurrent reserve and settle", "[budget]") {
  TempDir dir;
  auto ledger = std::move(Ledger::Open(dir.File("ledger.db"))).value();
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = MakeTracker(ledger.get(), clock);
  constexpr int kThreads = 8;
  constexpr int kRequests = 50;
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kRequests; ++i) {
        std::string key = fmt::format("key-{}", (t + i) % 3);
        auto r = tracker->Reserve(key, BudgetLimits{}, 0.01);
        if (!r.ok()) continue;
        std::vector<AttemptRecord> attempts = {
            Record(fmt::format("{}-{}", t, i), 1, key, "small", 0.001 * (i % 7))};
        if (i % 4 == 0) {
          attempts.push_back(Record(fmt::format("{}-{}", t, i), 2, key, "large", 0.0031));
        }
        (void)tracker->Settle(attempts);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(tracker->Outstanding().count == 0);
  CHECK(tracker->Totals() == *ledger->SumWindows(testing::UtcMs(2026, 11, 26, 12)));
  int64_t expected = 0;
  for (int i = 0; i < kRequests; ++i) {
    expected += ToNanoUsd(0.001 * (i % 7)) + (i % 4 == 0 ? ToNanoUsd(0.0031) : 0);
  }
  int64_t total = 0;
  for (const auto& [key, t] : tracker->Totals().keys) total += t.month_nano_usd;
  CHECK(total == kThreads * expected);
}

}  // namespace
}  // namespace signalbox::budget
