#include "budget/budget_window.h"

#include <stdlib.h>
#include <time.h>

#include <catch2/catch.hpp>

#include "budget/budget_test_util.h"
#include "budget/money.h"

namespace signalbox::budget {
namespace {

using testing::UtcMs;

TEST_CASE("budget windows are UTC days and months", "[budget]") {
  struct Case {
    int64_t ts_ms;
    const char* day;
    const char* month;
    int64_t day_begin, day_end, month_begin, month_end;
  };
  const Case cases[] = {
      {UtcMs(2026, 11, 26, 6, 12, 44), "2026-11-26", "2026-11", UtcMs(2026, 11, 26),
       UtcMs(2026, 11, 27), UtcMs(2026, 11, 1), UtcMs(2026, 12, 1)},
      // The last millisecond of a month and the first of the next.
      {UtcMs(2026, 12, 1) - 1, "2026-11-30", "2026-11", UtcMs(2026, 11, 30), UtcMs(2026, 12, 1),
       UtcMs(2026, 11, 1), UtcMs(2026, 12, 1)},
      {UtcMs(2026, 12, 1), "2026-12-01", "2026-12", UtcMs(2026, 12, 1), UtcMs(2026, 12, 2),
       UtcMs(2026, 12, 1), UtcMs(2027, 1, 1)},
      // Year end and a leap day.
      {UtcMs(2026, 12, 31, 23, 59, 59), "2026-12-31", "2026-12", UtcMs(2026, 12, 31),
       UtcMs(2027, 1, 1), UtcMs(2026, 12, 1), UtcMs(2027, 1, 1)},
      {UtcMs(2028, 2, 29, 12), "2028-02-29", "2028-02", UtcMs(2028, 2, 29), UtcMs(2028, 3, 1),
       UtcMs(2028, 2, 1), UtcMs(2028, 3, 1)},
      // Before the epoch: floor, not truncation.
      {-1, "1969-12-31", "1969-12", -86'400'000, 0, UtcMs(1969, 12, 1), 0},
  };
  for (const Case& c : cases) {
    INFO(c.day);
    CHECK(DayLabel(c.ts_ms) == c.day);
    CHECK(MonthLabel(c.ts_ms) == c.month);
    CHECK(DayBounds(c.ts_ms).begin_ms == c.day_begin);
    CHECK(DayBounds(c.ts_ms).end_ms == c.day_end);
    CHECK(MonthBounds(c.ts_ms).begin_ms == c.month_begin);
    CHECK(MonthBounds(c.ts_ms).end_ms == c.month_end);
  }
  CHECK(DayIndex(UtcMs(2026, 12, 1)) == DayIndex(UtcMs(2026, 12, 1) - 1) + 1);
  CHECK(MonthIndex(UtcMs(2027, 1, 1)) == MonthIndex(UtcMs(2026, 12, 31)) + 1);
}

TEST_CASE("budget windows ignore the local time zone", "[budget]") {
  const char* old = getenv("TZ");
  std::string saved = old != nullptr ? old : "";
  setenv("TZ", "America/Los_Angeles", 1);
  tzset();
  // 02:00 UTC on the 27th is still the 26th in Los Angeles; budgets follow UTC.
  std::string day = DayLabel(UtcMs(2026, 11, 27, 2));
  if (old != nullptr) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  CHECK(day == "2026-11-27");
}

TEST_CASE("money is counted in exact nano-dollars", "[budget]") {
  CHECK(ToNanoUsd(0.1) == 100'000'000);
  CHECK(ToNanoUsd(20.0) == 20'000'000'000);
  CHECK(ToNanoUsd(0.0000001) == 100);  // one token at $0.10 per million
  int64_t sum = 0;
  for (int i = 0; i < 10; ++i) sum += ToNanoUsd(0.1);
  CHECK(sum == ToNanoUsd(1.0));              // where 0.1 added ten times as doubles is not 1.0
  CHECK(ToNanoUsd(1e300) > ToNanoUsd(1e9));  // saturates, does not wrap
  CHECK(FormatUsd(20) == "$20.00");
  CHECK(FormatUsd(0.0123) == "$0.0123");
}

}  // namespace
}  // namespace signalbox::budget
