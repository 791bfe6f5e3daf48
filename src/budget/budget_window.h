// Budget windows: the UTC day and the UTC month that contain a wall-clock instant.
//
// Pure functions, thread-safe. Budgets reset at 00:00 UTC (daily) and on the first of
// the month at 00:00 UTC (monthly), whatever the server's local time zone, so that the
// live server, `signalbox spend` on another machine and the ledger agree on which
// window a record belongs to.
#pragma once

#include <cstdint>
#include <string>

namespace signalbox::budget {

// A half-open range of wall-clock milliseconds since the Unix epoch: [begin_ms, end_ms).
struct WindowBounds {
  int64_t begin_ms = 0;
  int64_t end_ms = 0;
};

// Days since 1970-01-01 (UTC) of the instant; floor division, so negative times work too.
int64_t DayIndex(int64_t ts_ms);
// Months since 1970-01 (UTC): year * 12 + month - 1 - 1970 * 12.
int64_t MonthIndex(int64_t ts_ms);

WindowBounds DayBounds(int64_t ts_ms);
WindowBounds MonthBounds(int64_t ts_ms);

// "2026-11-26" and "2026-11": the labels of GET /admin/spend.
std::string DayLabel(int64_t ts_ms);
std::string MonthLabel(int64_t ts_ms);

}  // namespace signalbox::budget
