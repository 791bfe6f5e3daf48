// SpendReport: spend per key and backend in the current budget windows, in the shape of
// GET /admin/spend and `signalbox spend [--json]` (see SPEC.md).
//
// Plain immutable value plus pure builders and renderers; thread-safe. The live server
// builds it from SpendTracker::Totals(), the CLI from the ledger file with
// Ledger::SumWindows(); both feed the same BuildSpendReport(), so they agree whenever
// the tracker and the ledger do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "budget/ledger.h"
#include "budget/spend_tracker.h"
#include "common/status.h"
#include "config/config.h"

namespace signalbox::budget {

struct KeySpendLine {
  std::string id;
  double day_usd = 0;
  double month_usd = 0;
  std::optional<double> daily_limit_usd;  // nullopt = unlimited (JSON null)
  std::optional<double> monthly_limit_usd;
  // limit - settled spend, at least 0; nullopt when unlimited. In-flight reservations are
  // not subtracted here (the CLI cannot see them), unlike SpendTracker::Remaining().
  std::optional<double> day_remaining_usd;
  std::optional<double> month_remaining_usd;
};

struct BackendSpendLine {
  std::string name;
  double day_usd = 0;
  double month_usd = 0;
};

struct SpendReport {
  std::string day;                         // "2026-11-26" (UTC)
  std::string month;                       // "2026-11" (UTC)
  std::vector<KeySpendLine> keys;          // sorted by id
  std::vector<BackendSpendLine> backends;  // sorted by name
  double total_day_usd = 0;
  double total_month_usd = 0;
};

// Configured key id -> its limits.
using KeyLimitsMap = std::map<std::string, BudgetLimits>;

KeyLimitsMap LimitsFromConfig(const std::vector<KeyConfig>& keys);

// Lists every configured key (with its limits, zero spend if none) plus every key id with
// spend in the month (anonymous, or keys since removed from the config: no limits).
SpendReport BuildSpendReport(const WindowSums& sums, const KeyLimitsMap& configured);

// The CLI's path: opens the ledger file read-only (safe while a server writes it) and
// reports the windows containing `at_ms`. A ledger file that does not exist yet means no
// spend: an all-zero report, not an error.
StatusOr<SpendReport> SpendReportFromLedgerFile(const std::string& path, int64_t at_ms,
                                                const KeyLimitsMap& configured);

// The JSON body of GET /admin/spend and `signalbox spend --json` (no trailing newline).
std::string SpendReportJson(const SpendReport& report);

// The human-readable table of `signalbox spend` (ends with a newline).
std::string SpendReportTable(const SpendReport& report);

}  // namespace signalbox::budget
