#include "budget/budget_window.h"

#include <fmt/format.h>

#include <chrono>

namespace signalbox::budget {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;

std::chrono::year_month_day CivilDay(int64_t ts_ms) {
  return std::chrono::year_month_day(std::chrono::sys_days(std::chrono::days(DayIndex(ts_ms))));
}

int64_t MsOfDay(std::chrono::sys_days day) {
  return static_cast<int64_t>(day.time_since_epoch().count()) * kMsPerDay;
}

}  // namespace

int64_t DayIndex(int64_t ts_ms) {
  int64_t q = ts_ms / kMsPerDay;
  return (ts_ms % kMsPerDay < 0) ? q - 1 : q;
}

int64_t MonthIndex(int64_t ts_ms) {
  auto ymd = CivilDay(ts_ms);
  return (static_cast<int>(ymd.year()) - 1970) * 12 +
         static_cast<int64_t>(static_cast<unsigned>(ymd.month())) - 1;
}

WindowBounds DayBounds(int64_t ts_ms) {
  int64_t begin = DayIndex(ts_ms) * kMsPerDay;
  return {begin, begin + kMsPerDay};
}

WindowBounds MonthBounds(int64_t ts_ms) {
  using namespace std::chrono;
  auto ymd = CivilDay(ts_ms);
  year_month first = ymd.year() / ymd.month();
  year_month next = first + months(1);
  return {MsOfDay(sys_days(first / 1)), MsOfDay(sys_days(next / 1))};
}

std::string DayLabel(int64_t ts_ms) {
  auto ymd = CivilDay(ts_ms);
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string MonthLabel(int64_t ts_ms) {
  auto ymd = CivilDay(ts_ms);
  return fmt::format("{:04}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()));
}

}  // namespace signalbox::budget
