#include "budget/ledger.h"

#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "budget/budget_window.h"
#include "budget/money.h"

namespace switchyard::budget {
namespace {

constexpr int64_t kSchemaVersion = 1;
// WAL size (in 4 KiB pages) that triggers a background checkpoint: SQLite's default.
constexpr int kCheckpointPages = 1000;

// cost_usd keeps the caller's value for people who read the file with sqlite3;
// cost_nusd is the same amount in nano-dollars, and every sum uses it (see money.h).
// The two covering indexes answer the window sums from the index alone.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS attempts (
  id            INTEGER PRIMARY KEY,
  ts_ms         INTEGER NOT NULL,
  request_id    TEXT    NOT NULL,
  attempt       INTEGER NOT NULL,
  key_id        TEXT    NOT NULL,
  backend       TEXT    NOT NULL,
  input_tokens  INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_usd      REAL    NOT NULL,
  cost_nusd     INTEGER NOT NULL,
  estimated     INTEGER NOT NULL,
  outcome       TEXT    NOT NULL,
  UNIQUE (request_id, attempt)
);
CREATE INDEX IF NOT EXISTS attempts_ts_key ON attempts (ts_ms, key_id, cost_nusd);
CREATE INDEX IF NOT EXISTS attempts_ts_backend ON attempts (ts_ms, backend, cost_nusd);
)sql";

constexpr std::string_view kInsert =
    "INSERT OR IGNORE INTO attempts (ts_ms, request_id, attempt, key_id, backend, "
    "input_tokens, output_tokens, cost_usd, cost_nusd, estimated, outcome) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

// One query per grouping column: the month's rows, with the day's part summed apart.
constexpr const char* kSumTemplate =
    "SELECT {0}, SUM(CASE WHEN ts_ms >= ?1 AND ts_ms < ?2 THEN cost_nusd ELSE 0 END), "
    "SUM(cost_nusd) FROM attempts WHERE ts_ms >= ?3 AND ts_ms < ?4 GROUP BY {0}";

constexpr double kMaxRecordUsd = 1e9;

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

}  // namespace

// One Append() call waiting in the group-commit queue. Lives on its caller's stack.
struct Ledger::Writer {
  std::span<const AttemptRecord> records;
  std::vector<bool> inserted;  // written by the leader before `done`
  Status status;
  bool done = false;  // GUARDED_BY(queue_mu_)
  std::condition_variable cv;
};

Status ValidateRecord(const AttemptRecord& r) {
  if (r.request_id.empty()) return InvalidArgument("ledger record: empty request_id");
  auto bad = [&](std::string_view what) {
    return InvalidArgument(fmt::format("ledger record {}#{}: {}", r.request_id, r.attempt, what));
  };
  if (r.attempt < 1) return bad("attempt must be >= 1");
  if (r.key_id.empty()) return bad("empty key_id");
  if (r.backend.empty()) return bad("empty backend");
  if (r.input_tokens < 0 || r.output_tokens < 0) return bad("negative token count");
  if (!std::isfinite(r.cost_usd) || r.cost_usd < 0 || r.cost_usd >= kMaxRecordUsd) {
    return bad("cost_usd must be finite, >= 0 and < 1e9");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path, LedgerOptions options) {
  if (path.empty()) return InvalidArgument("ledger path is empty");
  std::unique_ptr<Ledger> ledger(new Ledger(path, options));
  Status s = ledger->OpenConnections();
  if (!s.ok()) return s;
  return ledger;
}

Ledger::~Ledger() {
  if (write_db_) sqlite3_wal_hook(write_db_.get(), nullptr, nullptr);
  checkpointer_.reset();
}

Status Ledger::OpenConnections() {
  const std::string what = fmt::format("ledger {}", path_);
  std::error_code ec;
  if (options_.read_only) {
    if (!std::filesystem::exists(path_, ec)) return NotFound(what + ": no such file");
  } else {
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return Internal(fmt::format("{}: cannot create directory: {}", what, ec.message()));
    auto db = OpenSqlite(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         options_.busy_timeout);
    if (!db.ok()) return db.status();
    write_db_ = std::move(db).value();
    Status s = CreateSchema();
    if (!s.ok()) return s;
    auto stmt = PrepareSql(write_db_.get(), kInsert, what);
    if (!stmt.ok()) return stmt.status();
    insert_stmt_ = std::move(stmt).value();
    auto checkpointer = WalCheckpointer::Start(path_, options_.busy_timeout);
    if (!checkpointer.ok()) return checkpointer.status();
    checkpointer_ = std::move(checkpointer).value();
    checkpointer_->Attach(write_db_.get(), kCheckpointPages);
  }
  auto db = OpenSqlite(path_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, options_.busy_timeout);
  if (!db.ok()) return db.status();
  read_db_ = std::move(db).value();
  return CheckSchema(read_db_.get());
}

Status Ledger::CreateSchema() {
  sqlite3* db = write_db_.get();
  const std::string what = fmt::format("ledger {}: create schema", path_);
  // WAL: readers (`switchyard spend`) never block the writer. NORMAL: a commit appends
  // to the WAL without fsync; committed data survives a process crash.
  auto mode = PrepareSql(db, "PRAGMA journal_mode=WAL", what);
  if (!mode.ok()) return mode.status();
  int rc = sqlite3_step(mode->get());
  if (rc != SQLITE_ROW) return SqliteStatus(db, rc, what);
  if (ColumnText(mode->get(), 0) != "wal") {
    return FailedPrecondition(fmt::format("{}: the file system does not support WAL", what));
  }
  mode = SqliteStmt();
  Status s = ExecSql(db, "PRAGMA synchronous=NORMAL", what);
  if (!s.ok()) return s;
  s = ExecSql(db, "BEGIN IMMEDIATE", what);
  if (!s.ok()) return s;
  auto version = QueryInt(db, "PRAGMA user_version", what);
  if (!version.ok()) {
    s = version.status();
  } else if (*version > kSchemaVersion) {
    s = FailedPrecondition(
        fmt::format("{}: written by a newer switchyard (schema {})", what, *version));
  } else {
    s = ExecSql(db, kSchema, what);
    if (s.ok()) s = ExecSql(db, "PRAGMA user_version=1", what);
  }
  if (s.ok()) s = ExecSql(db, "COMMIT", what);
  if (!s.ok()) (void)ExecSql(db, "ROLLBACK", what);
  return s;
}

Status Ledger::CheckSchema(sqlite3* db) const {
  const std::string what = fmt::format("ledger {}", path_);
  auto tables = QueryInt(
      db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='attempts'", what);
  if (!tables.ok()) return tables.status();
  if (*tables == 0) return FailedPrecondition(what + ": not a switchyard ledger");
  auto version = QueryInt(db, "PRAGMA user_version", what);
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) {
    return FailedPrecondition(
        fmt::format("{}: written by a newer switchyard (schema {})", what, *version));
  }
  return Status::Ok();
}

StatusOr<std::vector<bool>> Ledger::Append(std::span<const AttemptRecord> records) {
  if (options_.read_only) {
    return FailedPrecondition(fmt::format("ledger {}: opened read-only", path_));
  }
  for (const AttemptRecord& r : records) {
    Status s = ValidateRecord(r);
    if (!s.ok()) return s;
  }
  if (records.empty()) return std::vector<bool>();

  Writer self;
  self.records = records;
  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || queue_.front() == &self; });
  if (!self.done) LeadGroup(lock);
  if (!self.status.ok()) return self.status;
  return std::move(self.inserted);
}

void Ledger::LeadGroup(std::unique_lock<std::mutex>& lock) {
  // Take every queued writer (up to the group limit) and commit them together with the
  // lock released, so that new callers can queue up behind this transaction.
  std::vector<Writer*> group;
  size_t n = 0;
  for (Writer* w : queue_) {
    if (!group.empty() && n + w->records.size() > options_.max_group_records) break;
    group.push_back(w);
    n += w->records.size();
  }
  Writer* const self = queue_.front();
  lock.unlock();
  Status s = CommitGroup(group);
  lock.lock();
  if (s.ok()) stats_.transactions += 1;
  for (Writer* w : group) {
    queue_.pop_front();
    if (s.ok()) {
      for (bool inserted : w->inserted) {
        (inserted ? stats_.records_inserted : stats_.records_ignored) += 1;
      }
    }
    w->status = s;
    w->done = true;
    if (w != self) w->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
}

Status Ledger::CommitGroup(const std::vector<Writer*>& group) {
  sqlite3* db = write_db_.get();
  const std::string what = fmt::format("ledger {}: append", path_);
  Status s = ExecSql(db, "BEGIN IMMEDIATE", what);
  if (!s.ok()) return s;
  s = InsertGroup(group);
  if (s.ok()) s = ExecSql(db, "COMMIT", what);
  if (!s.ok()) {
    (void)ExecSql(db, "ROLLBACK", what);
    for (Writer* w : group) w->inserted.assign(w->records.size(), false);
  }
  return s;
}

Status Ledger::InsertGroup(const std::vector<Writer*>& group) {
  sqlite3* db = write_db_.get();
  sqlite3_stmt* stmt = insert_stmt_.get();
  for (Writer* w : group) {
    w->inserted.assign(w->records.size(), false);
    for (size_t i = 0; i < w->records.size(); ++i) {
      const AttemptRecord& r = w->records[i];
      sqlite3_bind_int64(stmt, 1, r.ts_ms);
      BindText(stmt, 2, r.request_id);
      sqlite3_bind_int(stmt, 3, r.attempt);
      BindText(stmt, 4, r.key_id);
      BindText(stmt, 5, r.backend);
      sqlite3_bind_int64(stmt, 6, r.input_tokens);
      sqlite3_bind_int64(stmt, 7, r.output_tokens);
      sqlite3_bind_double(stmt, 8, r.cost_usd);
      sqlite3_bind_int64(stmt, 9, ToNanoUsd(r.cost_usd));
      sqlite3_bind_int(stmt, 10, r.estimated ? 1 : 0);
      BindText(stmt, 11, r.outcome);
      int rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      if (rc != SQLITE_DONE) {
        sqlite3_clear_bindings(stmt);
        return SqliteStatus(db, rc, fmt::format("ledger {}: append", path_));
      }
      w->inserted[i] = sqlite3_changes(db) > 0;
    }
  }
  sqlite3_clear_bindings(stmt);  // drop the pointers into the callers' records
  return Status::Ok();
}

StatusOr<WindowSums> Ledger::SumWindows(int64_t at_ms) const {
  WindowSums sums;
  sums.day = DayLabel(at_ms);
  sums.month = MonthLabel(at_ms);
  const WindowBounds day = DayBounds(at_ms);
  const WindowBounds month = MonthBounds(at_ms);
  const std::string what = fmt::format("ledger {}: sum", path_);

  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3* db = read_db_.get();
  // One read transaction: keys and backends come from the same snapshot of the file.
  Status s = ExecSql(db, "BEGIN", what);
  if (!s.ok()) return s;
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
  return sums;
}

StatusOr<std::optional<AttemptRecord>> Ledger::Find(std::string_view request_id,
                                                    int attempt) const {
  const std::string what = fmt::format("ledger {}: find", path_);
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
  if (rc == SQLITE_DONE) return std::optional<AttemptRecord>();
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

LedgerStats Ledger::Stats() const {
  LedgerStats stats;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stats = stats_;
  }
  if (checkpointer_) stats.checkpoints = checkpointer_->checkpoints();
  return stats;
}

StatusOr<int64_t> Ledger::CountRecords() const {
  std::lock_guard<std::mutex> lock(read_mu_);
  return QueryInt(read_db_.get(), "SELECT count(*) FROM attempts",
                  fmt::format("ledger {}: count", path_));
}

}  // namespace switchyard::budget
