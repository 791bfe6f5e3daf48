// The read side of the ledger: window sums, lookups and counts, and a read-only ledger's
// view of a live writer's spool.
#include <fmt/format.h>
#include <sqlite3.h>

#include <unordered_map>

#include "budget/budget_window.h"
#include "budget/ledger.h"
#include "budget/ledger_internal.h"
#include "budget/money.h"

namespace signalbox::budget {
namespace {

using internal::BindText;
using internal::RecordKey;

// One query per grouping column: the month's rows, with the day's part summed apart.
constexpr const char* kSumTemplate =
    "SELECT {0}, SUM(CASE WHEN ts_ms >= ?1 AND ts_ms < ?2 THEN cost_nusd ELSE 0 END), "
    "SUM(cost_nusd) FROM attempts WHERE ts_ms >= ?3 AND ts_ms < ?4 GROUP BY {0}";

// Adds a record that SQLite does not hold yet to the sums of its key and backend.
void AddToWindows(const AttemptRecord& r, const WindowBounds& day, const WindowBounds& month,
                  WindowSums* sums) {
  if (r.ts_ms < month.begin_ms || r.ts_ms >= month.end_ms) return;
  const int64_t nusd = ToNanoUsd(r.cost_usd);
  const bool today = r.ts_ms >= day.begin_ms && r.ts_ms < day.end_ms;
  for (WindowTotals* t : {&sums->keys[r.key_id], &sums->backends[r.backend]}) {
    t->month_nano_usd += nusd;
    if (today) t->day_nano_usd += nusd;
  }
}

}  // namespace

StatusOr<std::vector<AttemptRecord>> Ledger::Unapplied(sqlite3* db) const {
  // The active spool first, then the old one: a rotation in between moves records from
  // the first to the second (read twice, kept once), and a record whose old spool is
  // deleted before we read it was committed before the caller's read transaction began.
  std::unordered_map<std::string, AttemptRecord> found;
  for (const std::string& file : {spool_path(), old_spool_path()}) {
    auto content = ReadSpoolFile(file);
    if (!content.ok()) return content.status();
    for (AttemptRecord& r : content->records) found.try_emplace(RecordKey(r), std::move(r));
  }
  std::vector<AttemptRecord> out;
  if (found.empty()) return out;
  const std::string what = fmt::format("ledger {}: read spool", path_);
  auto stmt = PrepareSql(db, "SELECT 1 FROM attempts WHERE request_id = ?1 AND attempt = ?2", what);
  if (!stmt.ok()) return stmt.status();
  for (auto& [key, r] : found) {
    BindText(stmt->get(), 1, r.request_id);
    sqlite3_bind_int(stmt->get(), 2, r.attempt);
    int rc = sqlite3_step(stmt->get());
    sqlite3_reset(stmt->get());
    if (rc == SQLITE_DONE) {
      out.push_back(std::move(r));
    } else if (rc != SQLITE_ROW) {
      return SqliteStatus(db, rc, what);
    }
  }
  return out;
}

StatusOr<WindowSums> Ledger::SumWindows(int64_t at_ms) const {
  WindowSums sums;
  sums.day = DayLabel(at_ms);
  sums.month = MonthLabel(at_ms);
  const WindowBounds day = DayBounds(at_ms);
  const WindowBounds month = MonthBounds(at_ms);
  const std::string what = fmt::format("ledger {}: sum", path_);

  Status s = FlushForRead();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3* db = read_db_.get();
  // One read transaction: keys and backends come from the same snapshot of the file, and
  // a live writer's spooled records are added when the snapshot lacks them.
  s = ExecSql(db, "BEGIN", what);
  if (!s.ok()) return s;
  std::vector<AttemptRecord> unapplied;
  if (options_.read_only) {
    auto u = Unapplied(db);
    if (!u.ok()) {
      (void)ExecSql(db, "COMMIT", what);
      return u.status();
    }
    unapplied = std::move(u).value();
  }
  for (auto* target : {&sums.keys, &sums.backends}) {
    const char* column = target == &sums.keys ? "key_id" : "backend";
    auto stmt = PrepareSql(db, fmt::format(kSumTemplate, column), what);
    if (!stmt.ok()) {
      s = stmt.status();
      break;
    }
    sqlite3_bind_int64(stmt->get(), 1, day.begin_ms);
    sqlite3_bind_int64(stmt->get(), 2, day.end_ms);
    sqlite3_bind_int64(stmt->get(), 3, month.begin_ms);
    sqlite3_bind_int64(stmt->get(), 4, month.end_ms);
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
      (*target)[ColumnText(stmt->get(), 0)] =
          WindowTotals{sqlite3_column_int64(stmt->get(), 1), sqlite3_column_int64(stmt->get(), 2)};
    }
    if (rc != SQLITE_DONE) {
      s = SqliteStatus(db, rc, what);
      break;
    }
  }
  (void)ExecSql(db, "COMMIT", what);
  if (!s.ok()) return s;
  for (const AttemptRecord& r : unapplied) AddToWindows(r, day, month, &sums);
  return sums;
}

StatusOr<std::optional<AttemptRecord>> Ledger::Find(std::string_view request_id,
                                                    int attempt) const {
  const std::string what = fmt::format("ledger {}: find", path_);
  Status flushed = FlushForRead();
  if (!flushed.ok()) return flushed;
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3* db = read_db_.get();
  auto stmt = PrepareSql(db,
                         "SELECT ts_ms, request_id, attempt, key_id, backend, input_tokens, "
                         "output_tokens, cost_usd, estimated, outcome FROM attempts "
                         "WHERE request_id = ?1 AND attempt = ?2",
                         what);
  if (!stmt.ok()) return stmt.status();
  sqlite3_stmt* st = stmt->get();
  sqlite3_bind_text(st, 1, request_id.data(), static_cast<int>(request_id.size()), SQLITE_STATIC);
  sqlite3_bind_int(st, 2, attempt);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    if (!options_.read_only) return std::optional<AttemptRecord>();
    auto unapplied = Unapplied(db);
    if (!unapplied.ok()) return unapplied.status();
    for (AttemptRecord& r : *unapplied) {
      if (r.request_id == request_id && r.attempt == attempt) return std::optional(std::move(r));
    }
    return std::optional<AttemptRecord>();
  }
  if (rc != SQLITE_ROW) return SqliteStatus(db, rc, what);
  AttemptRecord r;
  r.ts_ms = sqlite3_column_int64(st, 0);
  r.request_id = ColumnText(st, 1);
  r.attempt = sqlite3_column_int(st, 2);
  r.key_id = ColumnText(st, 3);
  r.backend = ColumnText(st, 4);
  r.input_tokens = sqlite3_column_int64(st, 5);
  r.output_tokens = sqlite3_column_int64(st, 6);
  r.cost_usd = sqlite3_column_double(st, 7);
  r.estimated = sqlite3_column_int(st, 8) != 0;
  r.outcome = ColumnText(st, 9);
  return std::optional<AttemptRecord>(std::move(r));
}

StatusOr<int64_t> Ledger::CountRecords() const {
  const std::string what = fmt::format("ledger {}: count", path_);
  Status s = FlushForRead();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3* db = read_db_.get();
  if (!options_.read_only) return QueryInt(db, "SELECT count(*) FROM attempts", what);
  s = ExecSql(db, "BEGIN", what);
  if (!s.ok()) return s;
  auto unapplied = Unapplied(db);
  auto count = QueryInt(db, "SELECT count(*) FROM attempts", what);
  (void)ExecSql(db, "COMMIT", what);
  if (!unapplied.ok()) return unapplied.status();
  if (!count.ok()) return count.status();
  return *count + static_cast<int64_t>(unapplied->size());
}

}  // namespace signalbox::budget
