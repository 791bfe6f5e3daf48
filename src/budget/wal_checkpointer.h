// WalCheckpointer: moves the ledger's WAL into the database file on a background thread.
//
// Thread-safe; one per writing Ledger. SQLite normally checkpoints inside the commit that
// makes the WAL pass 1000 pages, and a checkpoint ends with fdatasync() of the WAL and the
// database file. That stalled one request's settle (and every settle queued behind it)
// for milliseconds about every 200 commits: on the reference VM it was three quarters of
// a settle's wall time. Here the writer connection's WAL hook only signals this thread,
// which runs a PASSIVE checkpoint on its own connection: it never blocks the writer or
// readers, and the writer never waits for the disk. Durability is unchanged: a commit is
// in the WAL before Append() returns, whether or not it was checkpointed yet.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "budget/sqlite_util.h"
#include "common/status.h"

namespace signalbox::budget {

class WalCheckpointer {
 public:
  // Opens a connection to `path` (which must exist) and starts the thread.
  static StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                          std::chrono::milliseconds busy_timeout);
  // Stops and joins the thread.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces `writer`'s automatic checkpoints: after each commit that leaves at least
  // `pages` frames in the WAL, a checkpoint is requested from this thread.
  // REQUIRES: this outlives `writer`'s use (the hook holds a pointer to this).
  void Attach(sqlite3* writer, int pages);

  // Asks for a checkpoint soon; never blocks on I/O.
  void Request();

  // Checkpoints run so far (each may have copied part of the WAL only).
  int64_t checkpoints() const;

 private:
  WalCheckpointer() = default;
  static int WalHook(void* self, sqlite3* db, const char* name, int pages);
  void Run();

  SqliteDb db_;  // used by the thread only
  int pages_ = 1000;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;   // GUARDED_BY(mu_)
  bool stop_ = false;        // GUARDED_BY(mu_)
  int64_t checkpoints_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace signalbox::budget
