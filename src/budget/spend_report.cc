#include "budget/spend_report.h"

#include <fmt/format.h>

#include <algorithm>

#include "budget/budget_window.h"
#include "budget/money.h"
#include "common/json_writer.h"

namespace signalbox::budget {
namespace {

std::optional<double> RemainingOf(const std::optional<double>& limit, int64_t spent_nano_usd) {
  if (!limit) return std::nullopt;
  return FromNanoUsd(std::max<int64_t>(0, ToNanoUsd(*limit) - spent_nano_usd));
}

void NullableDouble(JsonWriter& w, std::string_view key, const std::optional<double>& v) {
  w.Key(key);
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

// Six decimals: one cheap request costs well under a cent.
std::string Amount(double usd) { return fmt::format("{:.6f}", usd); }
std::string Amount(const std::optional<double>& usd) { return usd ? Amount(*usd) : "-"; }
std::string Limit(const std::optional<double>& usd) { return usd ? Amount(*usd) : "unlimited"; }

// Renders rows as columns: the first left-aligned, the others right-aligned.
void AppendTable(std::string& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c == 0) {
        line += fmt::format("{:<{}}", row[c], width[c]);
      } else {
        line += fmt::format("  {:>{}}", row[c], width[c]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
}

}  // namespace

KeyLimitsMap LimitsFromConfig(const std::vector<KeyConfig>& keys) {
  KeyLimitsMap limits;
  for (const KeyConfig& k : keys) limits[k.id] = BudgetLimits{k.daily_usd, k.monthly_usd};
  return limits;
}

SpendReport BuildSpendReport(const WindowSums& sums, const KeyLimitsMap& configured) {
  SpendReport report;
  report.day = sums.day;
  report.month = sums.month;
  std::map<std::string, WindowTotals> keys = sums.keys;
  for (const auto& [id, limits] : configured) keys.try_emplace(id);  // zero if no spend
  int64_t total_day = 0;
  int64_t total_month = 0;
  for (const auto& [id, spent] : keys) {
    KeySpendLine line;
    line.id = id;
    line.day_usd = FromNanoUsd(spent.day_nano_usd);
    line.month_usd = FromNanoUsd(spent.month_nano_usd);
    auto limits = configured.find(id);
    if (limits != configured.end()) {
      line.daily_limit_usd = limits->second.daily_usd;
      line.monthly_limit_usd = limits->second.monthly_usd;
    }
    line.day_remaining_usd = RemainingOf(line.daily_limit_usd, spent.day_nano_usd);
    line.month_remaining_usd = RemainingOf(line.monthly_limit_usd, spent.month_nano_usd);
    report.keys.push_back(std::move(line));
    total_day += spent.day_nano_usd;
    total_month += spent.month_nano_usd;
  }
  for (const auto& [name, spent] : sums.backends) {
    report.backends.push_back(
        BackendSpendLine{name, FromNanoUsd(spent.day_nano_usd), FromNanoUsd(spent.month_nano_usd)});
  }
  // Every record has a key (anonymous at least), so the keys' sum is the total.
  report.total_day_usd = FromNanoUsd(total_day);
  report.total_month_usd = FromNanoUsd(total_month);
  return report;
}

StatusOr<SpendReport> SpendReportFromLedgerFile(const std::string& path, int64_t at_ms,
                                                const KeyLimitsMap& configured) {
  LedgerOptions options;
  options.read_only = true;
  auto ledger = Ledger::Open(path, options);
  WindowSums sums;
  if (ledger.ok()) {
    auto read = (*ledger)->SumWindows(at_ms);
    if (!read.ok()) return read.status();
    sums = std::move(read).value();
  } else if (ledger.status().code() == StatusCode::kNotFound) {
    sums.day = DayLabel(at_ms);
    sums.month = MonthLabel(at_ms);
  } else {
    return ledger.status();
  }
  return BuildSpendReport(sums, configured);
}

std::string SpendReportJson(const SpendReport& report) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("day", report.day).Field("month", report.month);
  w.Key("keys").BeginArray();
  for (const KeySpendLine& k : report.keys) {
    w.BeginObject().Field("id", k.id).Field("day_usd", k.day_usd).Field("month_usd", k.month_usd);
    NullableDouble(w, "daily_limit_usd", k.daily_limit_usd);
    NullableDouble(w, "monthly_limit_usd", k.monthly_limit_usd);
    NullableDouble(w, "day_remaining_usd", k.day_remaining_usd);
    NullableDouble(w, "month_remaining_usd", k.month_remaining_usd);
    w.EndObject();
  }
  w.EndArray();
  w.Key("backends").BeginArray();
  for (const BackendSpendLine& b : report.backends) {
    w.BeginObject().Field("name", b.name).Field("day_usd", b.day_usd);
    w.Field("month_usd", b.month_usd).EndObject();
  }
  w.EndArray();
  w.Key("total").BeginObject().Field("day_usd", report.total_day_usd);
  w.Field("month_usd", report.total_month_usd).EndObject();
  w.EndObject();
  return out;
}

std::string SpendReportTable(const SpendReport& report) {
  std::string out =
      fmt::format("Spend in USD for day {} and month {} (UTC)\n\n", report.day, report.month);
  std::vector<std::vector<std::string>> keys = {
      {"KEY", "DAY", "DAILY LIMIT", "DAY LEFT", "MONTH", "MONTHLY LIMIT", "MONTH LEFT"}};
  for (const KeySpendLine& k : report.keys) {
    keys.push_back({k.id, Amount(k.day_usd), Limit(k.daily_limit_usd), Amount(k.day_remaining_usd),
                    Amount(k.month_usd), Limit(k.monthly_limit_usd),
                    Amount(k.month_remaining_usd)});
  }
  if (report.keys.empty()) keys.push_back({"(none)"});
  AppendTable(out, keys);
  out += '\n';
  std::vector<std::vector<std::string>> backends = {{"BACKEND", "DAY", "MONTH"}};
  for (const BackendSpendLine& b : report.backends) {
    backends.push_back({b.name, Amount(b.day_usd), Amount(b.month_usd)});
  }
  if (report.backends.empty()) backends.push_back({"(none)"});
  backends.push_back({"TOTAL", Amount(report.total_day_usd), Amount(report.total_month_usd)});
  AppendTable(out, backends);
  return out;
}

}  // namespace signalbox::budget
