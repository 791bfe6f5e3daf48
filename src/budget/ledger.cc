#include "budget/ledger.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "budget/budget_window.h"
#include "budget/ledger_internal.h"
#include "budget/money.h"
#include "common/log.h"

namespace signalbox::budget {
namespace {

using internal::BindText;
using internal::RecordKey;

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

constexpr double kMaxRecordUsd = 1e9;

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Internal(fmt::format("ledger spool {}: unlink: {}", path, strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace

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
  if (applier_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(spool_mu_);
      stop_ = true;
    }
    apply_cv_.notify_all();
    applier_.join();
    Status s = Flush();
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(spool_mu_);
      if (pending_.empty()) {
        spool_ = SpoolFile();
        s = RemoveFile(spool_path());
      }
    }
    if (!s.ok()) {
      Log(LogLevel::kError, "ledger: records left in the spool; the next start commits them")
          .Field("path", path_)
          .Field("error", s.message());
    }
  }
  if (write_db_) sqlite3_wal_hook(write_db_.get(), nullptr, nullptr);
  checkpointer_.reset();
  write_db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the writer's lock
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
    // One writer per ledger: a second one would commit and delete the first one's spool.
    lock_fd_ = ::open((path_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) {
      return Internal(fmt::format("{}: cannot open {}.lock: {}", what, path_, strerror(errno)));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return FailedPrecondition(fmt::format(
          "{}: in use by another signalbox process (only one server may write a ledger)", what));
    }
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
    s = Recover();
    if (!s.ok()) return s;
    auto spool = SpoolFile::Open(spool_path(), options_.spool_fault);
    if (!spool.ok()) return spool.status();
    spool_ = std::move(spool).value();
    applier_ = std::thread([this] { ApplierLoop(); });
  }
  auto db = OpenSqlite(path_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, options_.busy_timeout);
  if (!db.ok()) return db.status();
  read_db_ = std::move(db).value();
  return CheckSchema(read_db_.get());
}

Status Ledger::Recover() {
  std::vector<AttemptRecord> records;
  for (const std::string& file : {old_spool_path(), spool_path()}) {
    auto content = ReadSpoolFile(file);
    if (!content.ok()) return content.status();
    if (content->bad_lines > 0) {
      Log(LogLevel::kWarn, "ledger spool: lines that do not parse were skipped")
          .Field("path", file)
          .Field("lines", content->bad_lines);
    }
    for (AttemptRecord& r : content->records) {
      if (ValidateRecord(r).ok()) records.push_back(std::move(r));
    }
  }
  if (!records.empty()) {
    Status s = Commit(records, nullptr);
    if (!s.ok()) return s;
    Log(LogLevel::kInfo, "ledger: committed the records a previous process left in its spool")
        .Field("path", path_)
        .Field("records", static_cast<int64_t>(records.size()));
  }
  Status s = RemoveFile(old_spool_path());
  if (s.ok()) s = RemoveFile(spool_path());
  return s;
}

Status Ledger::CreateSchema() {
  sqlite3* db = write_db_.get();
  const std::string what = fmt::format("ledger {}: create schema", path_);
  // WAL: readers (`signalbox spend`) never block the writer. NORMAL: a commit appends
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
        fmt::format("{}: written by a newer signalbox (schema {})", what, *version));
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
  if (*tables == 0) return FailedPrecondition(what + ": not a signalbox ledger");
  auto version = QueryInt(db, "PRAGMA user_version", what);
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) {
    return FailedPrecondition(
        fmt::format("{}: written by a newer signalbox (schema {})", what, *version));
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
  std::vector<bool> appended(records.size(), false);
  if (records.empty()) return appended;

  // Keys and spool lines are made before taking the lock, assuming (as is almost always
  // true) that no record is a duplicate; the lock only covers the checks and the write.
  std::vector<std::string> keys;
  keys.reserve(records.size());
  std::string lines;
  lines.reserve(160 * records.size());
  for (const AttemptRecord& r : records) {
    keys.push_back(RecordKey(r));
    EncodeSpoolLine(r, &lines);
  }
  std::unique_lock<std::mutex> lock(spool_mu_);
  size_t fresh = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    appended[i] = unapplied_.count(keys[i]) == 0 &&
                  std::find(keys.begin(), keys.begin() + i, keys[i]) == keys.begin() + i;
    fresh += appended[i] ? 1 : 0;
  }
  if (fresh < records.size()) {  // duplicates: spool only the others
    lines.clear();
    for (size_t i = 0; i < records.size(); ++i) {
      if (appended[i]) EncodeSpoolLine(records[i], &lines);
    }
  }
  if (!lines.empty()) {
    Status s = spool_.Append(lines);
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (!appended[i]) continue;
    pending_.push_back(records[i]);
    unapplied_.insert(std::move(keys[i]));
  }
  stats_.records_inserted += static_cast<int64_t>(fresh);
  stats_.records_ignored += static_cast<int64_t>(records.size() - fresh);
  const bool wake =
      pending_.size() >= options_.apply_batch && pending_.size() - fresh < options_.apply_batch;
  lock.unlock();
  if (wake) apply_cv_.notify_one();
  return appended;
}

void Ledger::SetDuplicateListener(const void* owner, DuplicateListener listener) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  if (listener_owner_ != nullptr && listener_owner_ != owner) return;
  listener_owner_ = owner;
  listener_ = std::move(listener);
}

void Ledger::ClearDuplicateListener(const void* owner) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  if (listener_owner_ != owner) return;
  listener_owner_ = nullptr;
  listener_ = nullptr;
}

Status Ledger::Flush() {
  if (options_.read_only) return Status::Ok();
  std::lock_guard<std::mutex> lock(apply_mu_);
  // The first step may only retry the records of a failed step; the second then takes
  // everything appended before this call.
  for (int step = 0; step < 2; ++step) {
    Status s = ApplyOnce();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Ledger::FlushForRead() const {
  if (options_.read_only) return Status::Ok();
  return const_cast<Ledger*>(this)->Flush();
}

Status Ledger::ApplyOnce() {
  if (applying_.empty()) {
    std::lock_guard<std::mutex> lock(spool_mu_);
    if (pending_.empty()) return Status::Ok();
    Status s = spool_.Rotate(old_spool_path());
    if (!s.ok()) return s;
    applying_.swap(pending_);
  }
  std::vector<bool> inserted;
  Status s = Commit(applying_, &inserted);
  if (s.ok()) s = RemoveFile(old_spool_path());
  int64_t duplicates = 0;
  {
    std::lock_guard<std::mutex> lock(spool_mu_);
    if (!s.ok()) {
      stats_.apply_failures += 1;
      return s;
    }
    stats_.transactions += 1;
    for (const AttemptRecord& r : applying_) unapplied_.erase(RecordKey(r));
    duplicates = std::count(inserted.begin(), inserted.end(), false);
    stats_.records_inserted -= duplicates;
    stats_.records_ignored += duplicates;
  }
  if (duplicates > 0 && listener_) {
    for (size_t i = 0; i < applying_.size(); ++i) {
      if (!inserted[i]) listener_(applying_[i]);
    }
  }
  applying_.clear();
  return Status::Ok();
}

void Ledger::ApplierLoop() {
  bool failing = false;
  std::unique_lock<std::mutex> lock(spool_mu_);
  while (!stop_) {
    apply_cv_.wait_for(lock, options_.apply_interval,
                       [&] { return stop_ || pending_.size() >= options_.apply_batch; });
    if (stop_) break;
    lock.unlock();
    Status s;
    {
      std::lock_guard<std::mutex> apply(apply_mu_);
      s = ApplyOnce();
    }
    if (!s.ok() && !failing) {
      Log(LogLevel::kError,
          "ledger: cannot commit the spool to SQLite; records stay in the "
          "spool and are retried")
          .Field("path", path_)
          .Field("error", s.message());
    } else if (s.ok() && failing) {
      Log(LogLevel::kInfo, "ledger: spool committed again").Field("path", path_);
    }
    failing = !s.ok();
    lock.lock();
  }
}

Status Ledger::Commit(std::span<const AttemptRecord> records, std::vector<bool>* inserted) {
  sqlite3* db = write_db_.get();
  const std::string what = fmt::format("ledger {}: commit", path_);
  Status s = ExecSql(db, "BEGIN IMMEDIATE", what);
  if (!s.ok()) return s;
  sqlite3_stmt* stmt = insert_stmt_.get();
  if (inserted != nullptr) inserted->assign(records.size(), false);
  for (size_t i = 0; i < records.size(); ++i) {
    const AttemptRecord& r = records[i];
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
      s = SqliteStatus(db, rc, what);
      break;
    }
    if (inserted != nullptr) (*inserted)[i] = sqlite3_changes(db) > 0;
  }
  sqlite3_clear_bindings(stmt);  // drop the pointers into the records
  if (s.ok()) s = ExecSql(db, "COMMIT", what);
  if (!s.ok()) (void)ExecSql(db, "ROLLBACK", what);
  return s;
}

LedgerStats Ledger::Stats() const {
  LedgerStats stats;
  {
    std::lock_guard<std::mutex> lock(spool_mu_);
    stats = stats_;
    stats.records_unapplied = static_cast<int64_t>(unapplied_.size());
  }
  if (checkpointer_) stats.checkpoints = checkpointer_->checkpoints();
  return stats;
}

}  // namespace signalbox::budget
