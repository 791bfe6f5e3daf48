#include "budget/spend_report.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "budget/budget_test_util.h"
#include "budget/money.h"

namespace signalbox::budget {
namespace {

using nlohmann::json;
using testing::Record;
using testing::TempDir;
using testing::Utc;
using testing::UtcMs;

const int64_t kNow = UtcMs(2026, 11, 26, 12);

// team-a: configured with both limits; team-b: configured, unlimited, no spend;
// old-key: spend but no longer configured; anonymous: requests without a key.
KeyLimitsMap Configured() {
  return {{"team-a", BudgetLimits{20.0, 300.0}}, {"team-b", BudgetLimits{}}};
}

std::vector<AttemptRecord> Spend() {
  return {
      Record("r1", 1, "team-a", "small", 0.0123),
      Record("r1", 2, "team-a", "large", 25.0),
      Record("r2", 1, "old-key", "large", 1.5),
      Record("r3", 1, "anonymous", "small", 0.25, UtcMs(2026, 11, 2)),
  };
}

TEST_CASE("spend report JSON has exactly the SPEC shape", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = std::move(SpendTracker::Create(nullptr, clock)).value();
  REQUIRE(tracker->Settle(Spend()).ok());
  json j = json::parse(SpendReportJson(BuildSpendReport(tracker->Totals(), Configured())));

  json expected = json::parse(R"({
    "day": "2026-11-26", "month": "2026-11",
    "keys": [
      {"id": "anonymous", "day_usd": 0, "month_usd": 0.25, "daily_limit_usd": null,
       "monthly_limit_usd": null, "day_remaining_usd": null, "month_remaining_usd": null},
      {"id": "old-key", "day_usd": 1.5, "month_usd": 1.5, "daily_limit_usd": null,
       "monthly_limit_usd": null, "day_remaining_usd": null, "month_remaining_usd": null},
      {"id": "team-a", "day_usd": 25.0123, "month_usd": 25.0123, "daily_limit_usd": 20,
       "monthly_limit_usd": 300, "day_remaining_usd": 0, "month_remaining_usd": 274.9877},
      {"id": "team-b", "day_usd": 0, "month_usd": 0, "daily_limit_usd": null,
       "monthly_limit_usd": null, "day_remaining_usd": null, "month_remaining_usd": null}
    ],
    "backends": [
      {"name": "large", "day_usd": 26.5, "month_usd": 26.5},
      {"name": "small", "day_usd": 0.0123, "month_usd": 0.2623}
    ],
    "total": {"day_usd": 26.5123, "month_usd": 26.7623}
  })");
  CHECK(j == expected);
}

TEST_CASE("spend report from the ledger file equals the live tracker's", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("state/ledger.db");
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto ledger = std::move(Ledger::Open(path)).value();
  auto tracker = std::move(SpendTracker::Create(ledger.get(), clock)).value();
  REQUIRE(tracker->Settle(Spend()).ok());
  // Amounts whose double sums depend on the order: the nano-dollar sums do not.
  for (int i = 0; i < 100; ++i) {
    REQUIRE(tracker
                ->Settle(std::vector<AttemptRecord>{
                    Record("x" + std::to_string(i), 1, "team-a", "small", 0.1 + i * 1e-7)})
                .ok());
  }
  std::string live = SpendReportJson(BuildSpendReport(tracker->Totals(), Configured()));
  auto cli = SpendReportFromLedgerFile(path, kNow, Configured());  // while the writer is open
  REQUIRE(cli.ok());
  CHECK(SpendReportJson(*cli) == live);
  tracker.reset();
  ledger.reset();
  cli = SpendReportFromLedgerFile(path, kNow, Configured());  // and after it stopped
  REQUIRE(cli.ok());
  CHECK(SpendReportJson(*cli) == live);
}

TEST_CASE("spend report without a ledger file yet is all zero", "[budget]") {
  TempDir dir;
  auto report = SpendReportFromLedgerFile(dir.File("missing/ledger.db"), kNow, Configured());
  REQUIRE(report.ok());
  json j = json::parse(SpendReportJson(*report));
  CHECK(j["day"] == "2026-11-26");
  CHECK(j["keys"].size() == 2);
  CHECK(j["keys"][0]["day_remaining_usd"] == 20);
  CHECK(j["backends"].empty());
  CHECK(j["total"]["month_usd"] == 0);
  auto bad = SpendReportFromLedgerFile(dir.path(), kNow, Configured());  // a directory
  CHECK(!bad.ok());
}

TEST_CASE("spend table lists keys, limits, backends and the total", "[budget]") {
  FakeClock clock(Utc(2026, 11, 26, 12));
  auto tracker = std::move(SpendTracker::Create(nullptr, clock)).value();
  REQUIRE(tracker->Settle(Spend()).ok());
  std::string table = SpendReportTable(BuildSpendReport(tracker->Totals(), Configured()));
  const std::string expected =
      "Spend in USD for day 2026-11-26 and month 2026-11 (UTC)\n"
      "\n"
      "KEY              DAY  DAILY LIMIT  DAY LEFT      MONTH  MONTHLY LIMIT  MONTH LEFT\n"
      "anonymous   0.000000    unlimited         -   0.250000      unlimited           -\n"
      "old-key     1.500000    unlimited         -   1.500000      unlimited           -\n"
      "team-a     25.012300    20.000000  0.000000  25.012300     300.000000  274.987700\n"
      "team-b      0.000000    unlimited         -   0.000000      unlimited           -\n"
      "\n"
      "BACKEND        DAY      MONTH\n"
      "large    26.500000  26.500000\n"
      "small     0.012300   0.262300\n"
      "TOTAL    26.512300  26.762300\n";
  CHECK(table == expected);
}

TEST_CASE("spend report takes limits from the config's keys", "[budget]") {
  std::vector<KeyConfig> keys(2);
  keys[0].id = "team-a";
  keys[0].daily_usd = 20;
  keys[1].id = "team-b";
  keys[1].monthly_usd = 300;
  KeyLimitsMap limits = LimitsFromConfig(keys);
  REQUIRE(limits.size() == 2);
  CHECK(limits["team-a"].daily_usd == 20.0);
  CHECK(!limits["team-a"].monthly_usd.has_value());
  CHECK(limits["team-b"].monthly_usd == 300.0);
}

}  // namespace
}  // namespace signalbox::budget
