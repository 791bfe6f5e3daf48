#include "budget/wal_checkpointer.h"

#include <sqlite3.h>

namespace signalbox::budget {

StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  auto db = OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, busy_timeout);
  if (!db.ok()) return db.status();
  std::unique_ptr<WalCheckpointer> checkpointer(new WalCheckpointer());
  checkpointer->db_ = std::move(db).value();
  checkpointer->thread_ = std::thread([self = checkpointer.get()] { self->Run(); });
  return checkpointer;
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::Attach(sqlite3* writer, int pages) {
  pages_ = pages;
  sqlite3_wal_hook(writer, &WalCheckpointer::WalHook, this);  // disables auto-checkpoints
}

int WalCheckpointer::WalHook(void* self, sqlite3*, const char*, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (pages >= checkpointer->pages_) checkpointer->Request();
  return SQLITE_OK;
}

void WalCheckpointer::Request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
  }
  cv_.notify_one();
}

int64_t WalCheckpointer::checkpoints() const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoints_;
}

void WalCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return requested_ || stop_; });
    if (stop_) return;
    requested_ = false;
    lock.unlock();
    // PASSIVE: copy what no reader still needs, wait for nobody. A failure (another
    // process checkpointing, a full disk) only leaves the WAL longer: the next request
    // tries again.
    int log_frames = 0;
    int copied = 0;
    sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    lock.lock();
    checkpoints_ += 1;
  }
}

}  // namespace signalbox::budget
