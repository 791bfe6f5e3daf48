// ConfigWatcher: the "file changed" reload trigger. It notices when the bytes behind the
// config path change — editor saves, in-place rewrites, delete-and-recreate, Kubernetes
// ConfigMap `..data` symlink swaps — and calls back once per settled change, so the
// caller can run Reloader::Reload("file"). The algorithm is described in README.md
// ("Config file watching").
//
// Thread-safe; owns one background thread. The callback runs on that thread, never
// concurrently with itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"

namespace signalbox {

struct ConfigWatcherOptions {
  // Quiet period after the last directory event before the file is re-hashed, so a burst
  // of writes (an editor's save, a kubelet update, a script) yields one check. A burst
  // that never goes quiet is still checked every 10 x debounce.
  std::chrono::milliseconds debounce{200};
  // Backstop: re-hash the file this often even without events (0 = off). Catches what
  // inotify cannot see: NFS and other network filesystems, a dropped event, a symlink
  // chain through a directory we do not watch.
  std::chrono::milliseconds poll{5000};
  // false: poll only (for filesystems where inotify does not work, and for tests of the
  // poll path). Requires poll > 0.
  bool use_inotify = true;
};

class ConfigWatcher {
 public:
  // `on_change` runs on the watcher thread when the file's content (SHA-256 of its bytes,
  // read through `path`, following symlinks) differs from the content last reported. The
  // content at Start() counts as reported. An unreadable file is never reported; it is
  // retried shortly after an event and on every poll. `on_change` must not throw (an
  // exception is caught and logged) and must not call Stop().
  ConfigWatcher(std::string path, std::function<void()> on_change, ConfigWatcherOptions opts = {});
  ~ConfigWatcher();  // Stop()s and joins.
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Hashes the current content, watches the file's directory and starts the thread.
  // Fails when the options are unusable, inotify cannot be initialised, or the directory
  // cannot be watched (missing, not a directory, no permission). Call at most once.
  Status Start();
  // Stops the thread and waits for it (and for a callback in progress). Idempotent.
  void Stop();

  // Completed on_change calls.
  uint64_t changes_reported() const { return changes_reported_.load(std::memory_order_relaxed); }
  // Completed checks (read + hash + compare, successful or not), counting the report
  // they made. Tests wait on it to know an event has been looked at.
  uint64_t checks_completed() const { return checks_completed_.load(std::memory_order_relaxed); }
  // Times the kernel dropped events (IN_Q_OVERFLOW); each one forces a re-hash.
  uint64_t queue_overflows() const { return queue_overflows_.load(std::memory_order_relaxed); }
  // Hex SHA-256 of the content last reported (or hashed at Start()); empty if the file
  // has not been readable yet.
  std::string reported_hash() const;

 private:
  enum class Trigger { kEvent, kRetry, kPoll };

  void Run();
  // Reads every queued inotify event; returns false when the fd failed for good.
  bool DrainEvents(std::chrono::steady_clock::time_point now);
  void ScheduleCheck(std::chrono::steady_clock::time_point now);
  // The poll() timeout in milliseconds until the next deadline; -1 = none.
  int TimeoutMs(std::chrono::steady_clock::time_point now) const;
  // Re-points the watches, re-hashes the file and reports a change.
  void Check(Trigger trigger);
  void Report(const std::string& hash);
  // Watches the directory of `path_` and that of the file it resolves to (when a symlink
  // leads elsewhere), re-adding watches that the kernel dropped. Returns true if a
  // directory is watched now that was not before.
  bool EnsureWatches();
  // EnsureWatches(), then the hex SHA-256 of the file.
  StatusOr<std::string> WatchAndHash();

  const std::string path_;
  const std::function<void()> on_change_;
  const ConfigWatcherOptions opts_;

  // Set by Start() before the thread exists, then used by the thread only.
  std::string dir_;  // absolute directory of path_
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::map<int, std::string> watches_;  // wd -> watched directory
  bool watch_failing_ = false;          // the directory watch is missing (logged once)
  bool read_failing_ = false;           // the file is unreadable (logged once)
  int retries_ = 0;                     // read retries since the last event
  std::optional<std::chrono::steady_clock::time_point> burst_start_;
  std::optional<std::chrono::steady_clock::time_point> check_at_;
  Trigger pending_trigger_ = Trigger::kEvent;
  std::chrono::steady_clock::time_point next_poll_;

  mutable std::mutex mu_;
  std::string reported_hash_;  // guarded by mu_; written by Start() and the thread

  std::mutex lifecycle_mu_;  // serialises Start() and Stop()
  bool started_ = false;     // guarded by lifecycle_mu_
  std::thread thread_;       // guarded by lifecycle_mu_

  std::atomic<uint64_t> changes_reported_{0};
  std::atomic<uint64_t> checks_completed_{0};
  std::atomic<uint64_t> queue_overflows_{0};
};

}  // namespace signalbox
