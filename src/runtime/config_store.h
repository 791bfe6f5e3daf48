// ConfigStore: the current Snapshot and the outcome of the last reload.
//
// Thread-safe. Readers pin the current snapshot (a shared_ptr copy under a mutex held
// for that copy only); a reload builds the next snapshot entirely off the request path
// and publishes it with one swap under the same mutex. Requests in flight keep the
// snapshot they pinned. (libstdc++ 12's std::atomic<std::shared_ptr> is itself a lock
// taken through a bit of the pointer, which ThreadSanitizer cannot see: it reported
// Publish() racing Current() and halted `make tsan`. A plain mutex costs the same.)
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/snapshot.h"

namespace signalbox {

struct ReloadResult {
  bool ok = true;
  uint64_t version = 0;  // the version now serving
  std::string trigger;   // startup, sighup, admin, file
  std::chrono::system_clock::time_point at;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  bool unchanged = false;  // the file's content hash equals the serving config's
};

class ConfigStore {
 public:
  std::shared_ptr<const Snapshot> Current() const {
    std::lock_guard<std::mutex> lk(current_mu_);
    return current_;
  }
  void Publish(std::shared_ptr<const Snapshot> s) {
    {
      std::lock_guard<std::mutex> lk(current_mu_);
      current_.swap(s);
    }
    // `s` (the previous snapshot) is released here, outside the lock.
  }

  void SetLastReload(ReloadResult r) {
    std::lock_guard<std::mutex> lk(mu_);
    last_ = std::move(r);
  }
  ReloadResult LastReload() const {
    std::lock_guard<std::mutex> lk(mu_);
    return last_;
  }

 private:
  mutable std::mutex current_mu_;
  std::shared_ptr<const Snapshot> current_;  // GUARDED_BY(current_mu_)
  mutable std::mutex mu_;
  ReloadResult last_;
};

}  // namespace signalbox
