// ElasticPool: the server's httplib::TaskQueue. One job = one client connection, held
// for the connection's whole life (keep-alive and streams included), so the pool grows a
// thread per connection up to a cap instead of queueing connections behind busy workers
// (httplib's default: 8 threads and an unbounded, invisible queue).
//
// Thread-safe. Past the cap a connection is not queued: it goes to a shedding thread
// that answers 503 + retry-after at once and closes it. (A job cannot simply be dropped:
// its closure owns the accepted socket and dropping it would leak the fd.) Threads above
// `min_threads` exit after `idle_exit` without work.
//
// Reclaiming (nginx reuses idle keep-alive connections the same way when it runs out of
// connections): a worker whose connection has not delivered a complete request head (a
// fresh connection that sent nothing yet, a keep-alive connection between requests, a
// head still arriving) registers an event fd with AddReclaimable(). At the cap, a new
// connection is not shed while such a worker exists: the one registered longest ago is
// woken, closes its connection and takes the new one. So connections that send nothing
// cannot lock out new clients (health probes included); only connections with requests
// in progress count against the cap.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

namespace signalbox {

class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(size_t min_threads, size_t max_threads,
              std::chrono::milliseconds idle_exit = std::chrono::seconds(60));
  ~ElasticPool() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // True on the shedding thread while it runs a job: the connection must be refused.
  static bool InShedMode();

  // Registers the calling worker's connection as reclaimable; `wake_fd` (an eventfd) is
  // written when the pool takes the thread back. Returns a ticket for RemoveReclaimable.
  uint64_t AddReclaimable(int wake_fd);
  // False when the connection was reclaimed meanwhile: the worker must close it.
  bool RemoveReclaimable(uint64_t ticket);

  size_t threads() const;
  size_t busy() const;
  uint64_t shed_total() const;
  uint64_t reclaimed_total() const;

 private:
  void Worker();
  void Shedder();

  const size_t min_threads_;
  const size_t max_threads_;
  const std::chrono::milliseconds idle_exit_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // work or shutdown for workers
  std::condition_variable done_cv_;  // a thread exited
  std::deque<std::function<void()>> jobs_;
  std::deque<std::function<void()>> shed_jobs_;
  size_t threads_ = 0;  // worker threads alive
  size_t idle_ = 0;     // workers waiting for a job
  bool shed_running_ = false;
  uint64_t shed_total_ = 0;
  std::map<uint64_t, int> reclaimable_;  // ticket (oldest first) -> wake fd
  uint64_t next_ticket_ = 1;
  uint64_t reclaimed_total_ = 0;
  bool shutdown_ = false;
};

}  // namespace signalbox
