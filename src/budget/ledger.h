// Ledger: the durable spend journal, one SQLite row per upstream attempt.
//
// Thread-safe and long-lived (outlives config reloads). Append() returns only after its
// records are committed to the WAL, so the caller can settle a request's spend before the
// client sees the end of its response and a kill -9 right after loses nothing. Durability
// is against a crash of the process (the WAL is in the OS page cache once committed); with
// synchronous=NORMAL a power loss may drop the last commits since the last checkpoint.
//
// Idempotent: (request_id, attempt) is unique, and appending a pair that is already there
// is ignored and reported as not inserted, so a settle replayed after a crash or a retry
// never counts twice.
//
// Group commit: concurrent Append() callers queue up; the caller at the head of the queue
// (the leader) writes every queued record in one transaction while the others wait, then
// wakes them with their results and hands leadership to the next in line. Under load one
// transaction carries many requests, so the ledger does not serialise the request path.
//
// The read side (window sums for `switchyard spend` and the tracker's start-up) uses its
// own connection, so reads never wait behind the writer; several processes may read the
// file while one server writes it. Only one process should write a ledger file at a time
// (the in-memory totals of a SpendTracker see only their own process's appends).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "budget/sqlite_util.h"
#include "budget/wal_checkpointer.h"
#include "common/status.h"

namespace switchyard::budget {

// One upstream attempt of one request: what it cost and how it ended.
struct AttemptRecord {
  int64_t ts_ms = 0;       // wall clock, ms since the Unix epoch (UTC); selects the window
  std::string request_id;  // the x-request-id
  int attempt = 1;         // 1-based: 2 is the first retry or fallback
  std::string key_id;      // the gateway key's id; "anonymous" without keys
  std::string backend;     // backend name
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;     // stored as given; sums use it rounded to nano-dollars
  bool estimated = false;  // tokens counted by the gateway: the upstream sent no usage
  std::string outcome;     // short text: ok, error, cancelled, timeout, ...

  bool operator==(const AttemptRecord&) const = default;
};

// Spend of one key or backend in the day and the month windows, in nano-dollars.
struct WindowTotals {
  int64_t day_nano_usd = 0;
  int64_t month_nano_usd = 0;
  bool operator==(const WindowTotals&) const = default;
};

// Spend per key and per backend in one UTC day and the UTC month that contains it. A key
// or backend is listed when it has at least one record in the month.
struct WindowSums {
  std::string day;    // "2026-11-26"
  std::string month;  // "2026-11"
  std::map<std::string, WindowTotals> keys;
  std::map<std::string, WindowTotals> backends;
  bool operator==(const WindowSums&) const = default;
};

struct LedgerOptions {
  // Open an existing ledger for reading only (`switchyard spend`): never creates the file,
  // never writes; Append() fails with kFailedPrecondition.
  bool read_only = false;
  // How long a statement waits for a lock held by another connection or process.
  std::chrono::milliseconds busy_timeout{5000};
  // Upper bound on the records of one group-commit transaction (latency of the leader).
  size_t max_group_records = 2048;
};

// Counters of the write side since Open(); for the benchmark and metrics.
struct LedgerStats {
  int64_t transactions = 0;      // committed group transactions
  int64_t records_inserted = 0;  // new rows (duplicates not counted)
  int64_t records_ignored = 0;   // duplicates of rows already there
  int64_t checkpoints = 0;       // background WAL checkpoints run
};

// Checks the invariants Append() enforces: a request id, attempt >= 1, a key id, a
// backend, token counts >= 0, and a finite cost >= 0 below $1e9.
Status ValidateRecord(const AttemptRecord& record);

class Ledger {
 public:
  // Opens the ledger at `path`. Unless read_only, creates the parent directory and the
  // file on first start and sets WAL mode and synchronous=NORMAL. A read-only open of a
  // missing file is kNotFound.
  static StatusOr<std::unique_ptr<Ledger>> Open(const std::string& path,
                                                LedgerOptions options = {});
  // REQUIRES: no call on this ledger is in progress.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends the records in one transaction shared with concurrent callers and returns
  // after the commit: element i tells whether records[i] was inserted (false: its
  // (request_id, attempt) was already in the ledger, or earlier in `records`). On error
  // nothing of this call was written (the whole group rolled back); appending the same
  // records again is safe. Invalid records fail the call with kInvalidArgument before
  // anything is queued.
  StatusOr<std::vector<bool>> Append(std::span<const AttemptRecord> records);

  // Spend per key and backend in the UTC day and month that contain `at_ms`.
  StatusOr<WindowSums> SumWindows(int64_t at_ms) const;

  // Reads back one record, for tests and audits.
  StatusOr<std::optional<AttemptRecord>> Find(std::string_view request_id, int attempt) const;
  StatusOr<int64_t> CountRecords() const;

  LedgerStats Stats() const;
  const std::string& path() const { return path_; }

 private:
  struct Writer;

  Ledger(std::string path, LedgerOptions options) : path_(std::move(path)), options_(options) {}
  Status OpenConnections();
  Status CreateSchema();
  Status CheckSchema(sqlite3* db) const;
  // The leader's part of Append(): commits the writers at the head of the queue and wakes
  // them. REQUIRES: lock holds queue_mu_ and the caller is queue_.front().
  void LeadGroup(std::unique_lock<std::mutex>& lock);
  // Writes the records of `group` in one transaction. Called by the leader only.
  Status CommitGroup(const std::vector<Writer*>& group);
  Status InsertGroup(const std::vector<Writer*>& group);

  const std::string path_;
  const LedgerOptions options_;

  // The write side: used only by the current leader, which the queue makes unique.
  // ~Ledger() detaches the checkpointer's WAL hook from write_db_ before destroying it.
  SqliteDb write_db_;
  SqliteStmt insert_stmt_;
  std::unique_ptr<WalCheckpointer> checkpointer_;

  mutable std::mutex queue_mu_;
  std::deque<Writer*> queue_;  // GUARDED_BY(queue_mu_); the front is the leader
  LedgerStats stats_;          // GUARDED_BY(queue_mu_)

  // The read side.
  mutable std::mutex read_mu_;
  SqliteDb read_db_;  // GUARDED_BY(read_mu_)
};

}  // namespace switchyard::budget
