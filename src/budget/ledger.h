// Ledger: the durable spend journal, one SQLite row per upstream attempt.
//
// Thread-safe and long-lived (outlives config reloads). Append() returns once its records
// are in the spool file (budget/spool.h): one write(2), no transaction, so the caller can
// settle a request's spend before the client sees the end of its response and a kill -9
// right after loses nothing. Durability is against a crash of the process (the bytes are
// in the OS page cache once written); like SQLite's WAL with synchronous=NORMAL, a power
// loss may drop what the OS had not yet written back (see the README).
//
// An applier thread moves spooled records into SQLite (WAL mode) in one transaction per
// `apply_interval` or `apply_batch` records, so the request path pays one write(2) per
// request and SQLite's per-transaction cost is shared by hundreds of requests. Open()
// first commits whatever a previous process left in its spool (after a crash), so window
// totals rebuilt from SQLite are complete. Flush() and the reads of a writable ledger
// (SumWindows, Find, CountRecords) commit the spool first: they see every Append() that
// returned before them.
//
// Idempotent: (request_id, attempt) is unique. Appending a pair that is still in the spool
// is ignored and reported as not appended; a pair that SQLite already holds (a settle
// replayed long after the first) is found by the applier, which ignores it and tells the
// duplicate listener, so the caller that counted it can take it back (the SpendTracker
// does). Nothing is written twice, and the request path never reads SQLite.
//
// The read side (window sums for `signalbox spend` and the tracker's start-up) uses its
// own connection, so reads never wait behind the writer; several processes may read the
// file while one server writes it, and a read-only ledger adds the live server's spooled
// records to what SQLite holds. Only one process should write a ledger file at a time
// (the in-memory totals of a SpendTracker see only their own process's appends).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "budget/ledger_record.h"
#include "budget/spool.h"
#include "budget/sqlite_util.h"
#include "budget/wal_checkpointer.h"
#include "common/status.h"

namespace signalbox::budget {

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
  // Open an existing ledger for reading only (`signalbox spend`): never creates the file,
  // never writes; Append() fails with kFailedPrecondition.
  bool read_only = false;
  // How long a statement waits for a lock held by another connection or process.
  std::chrono::milliseconds busy_timeout{5000};
  // The applier commits the spool to SQLite at least this often while records wait...
  std::chrono::milliseconds apply_interval{200};
  // ...and as soon as this many records wait.
  size_t apply_batch = 1024;
  // Test hook: called before each spool write; a non-zero errno fails it.
  std::function<int()> spool_fault;
};

// Counters of the write side since Open(); for the benchmark and metrics.
struct LedgerStats {
  int64_t transactions = 0;       // SQLite transactions that applied spooled records
  int64_t records_inserted = 0;   // new records appended (duplicates not counted)
  int64_t records_ignored = 0;    // duplicates of records already there
  int64_t records_unapplied = 0;  // appended, not yet committed to SQLite
  int64_t apply_failures = 0;     // applier attempts that failed (retried)
  int64_t checkpoints = 0;        // background WAL checkpoints run
};

// Checks the invariants Append() enforces: a request id, attempt >= 1, a key id, a
// backend, token counts >= 0, and a finite cost >= 0 below $1e9.
Status ValidateRecord(const AttemptRecord& record);

class Ledger {
 public:
  // Opens the ledger at `path`. Unless read_only, creates the parent directory and the
  // file on first start, sets WAL mode and synchronous=NORMAL, commits the records a
  // previous process left in its spool, and starts the applier. A read-only open of a
  // missing file is kNotFound.
  static StatusOr<std::unique_ptr<Ledger>> Open(const std::string& path,
                                                LedgerOptions options = {});
  // Stops the applier and commits what is left. REQUIRES: no call is in progress.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends the records to the spool in one write and returns: element i tells whether
  // records[i] was appended (false: its (request_id, attempt) is still in the spool, or
  // earlier in `records`; one already in SQLite is reported later to the duplicate
  // listener). On error nothing of this call was written; appending the same records
  // again is safe. Invalid records fail the call with kInvalidArgument before anything
  // is written.
  StatusOr<std::vector<bool>> Append(std::span<const AttemptRecord> records);

  // Called by the applier for each appended record whose (request_id, attempt) SQLite
  // already held, after the commit that ignored it and before Flush() returns. One
  // listener per ledger: Set does nothing while another owner's is set; Clear only
  // removes the owner's own. The listener must not call back into the ledger.
  using DuplicateListener = std::function<void(const AttemptRecord&)>;
  void SetDuplicateListener(const void* owner, DuplicateListener listener);
  void ClearDuplicateListener(const void* owner);

  // Commits every record appended before the call to SQLite. kUnavailable while another
  // process holds the write lock past busy_timeout (the records stay in the spool).
  Status Flush();

  // Spend per key and backend in the UTC day and month that contain `at_ms`.
  StatusOr<WindowSums> SumWindows(int64_t at_ms) const;

  // Reads back one record, for tests and audits.
  StatusOr<std::optional<AttemptRecord>> Find(std::string_view request_id, int attempt) const;
  StatusOr<int64_t> CountRecords() const;

  LedgerStats Stats() const;
  const std::string& path() const { return path_; }
  // The spool files: `<path>.spool` takes appends, `<path>.spool.old` is being applied.
  std::string spool_path() const { return path_ + ".spool"; }
  std::string old_spool_path() const { return path_ + ".spool.old"; }

 private:
  Ledger(std::string path, LedgerOptions options) : path_(std::move(path)), options_(options) {}
  Status OpenConnections();
  Status CreateSchema();
  Status CheckSchema(sqlite3* db) const;
  // Commits the spool files a previous process left, then deletes them.
  Status Recover();
  // Inserts `records` in one transaction (INSERT OR IGNORE); `inserted` (if not null)
  // tells which were new.
  Status Commit(std::span<const AttemptRecord> records, std::vector<bool>* inserted);
  // One apply step: retries the records of a failed step, else rotates the spool and
  // commits its records. REQUIRES: apply_mu_ held.
  Status ApplyOnce();
  void ApplierLoop();
  // Flush() for the reads of a writable ledger; nothing for a read-only one.
  Status FlushForRead() const;
  // A read-only ledger's view of a live writer's spool: its records not yet in SQLite as
  // seen by `db`'s current read transaction.
  StatusOr<std::vector<AttemptRecord>> Unapplied(sqlite3* db) const;

  const std::string path_;
  const LedgerOptions options_;
  int lock_fd_ = -1;  // <path>.lock, flock()ed by the one writer

  // The request path: Append() writes the spool under spool_mu_.
  mutable std::mutex spool_mu_;
  SpoolFile spool_;                            // GUARDED_BY(spool_mu_)
  std::vector<AttemptRecord> pending_;         // GUARDED_BY(spool_mu_): spooled, not taken
  std::unordered_set<std::string> unapplied_;  // GUARDED_BY(spool_mu_): ids not in SQLite
  LedgerStats stats_;                          // GUARDED_BY(spool_mu_)
  std::condition_variable apply_cv_;           // wakes the applier (batch full, stop)
  bool stop_ = false;                          // GUARDED_BY(spool_mu_)

  // The apply side: one apply step at a time (the applier thread or Flush()).
  mutable std::mutex apply_mu_;
  std::vector<AttemptRecord> applying_;   // GUARDED_BY(apply_mu_): the old spool's records
  SqliteDb write_db_;                     // GUARDED_BY(apply_mu_)
  SqliteStmt insert_stmt_;                // GUARDED_BY(apply_mu_)
  const void* listener_owner_ = nullptr;  // GUARDED_BY(apply_mu_)
  DuplicateListener listener_;            // GUARDED_BY(apply_mu_)
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::thread applier_;

  // The read side.
  mutable std::mutex read_mu_;
  SqliteDb read_db_;  // GUARDED_BY(read_mu_)
};

}  // namespace signalbox::budget
