// ConfigStore: the current Snapshot and the outcome of the last reload.
//
// Thread-safe. Readers pin the current snapshot with one atomic load; a reload builds
// the next snapshot entirely off the request path and publishes it with one atomic
// store. Requests in flight keep the snapshot they pinned.
#pragma once

#include <atomic>
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
  std::shared_ptr<const Snapshot> Current() const { return current_.load(); }
  void Publish(std::shared_ptr<const Snapshot> s) { current_.store(std::move(s)); }

  void SetLastReload(ReloadResult r) {
    std::lock_guard<std::mutex> lk(mu_);
    last_ = std::move(r);
  }
  ReloadResult LastReload() const {
    std::lock_guard<std::mutex> lk(mu_);
    return last_;
  }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  mutable std::mutex mu_;
  ReloadResult last_;
};

}  // namespace signalbox
