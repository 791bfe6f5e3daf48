// Watchdog: one thread that enforces the deadlines httplib cannot (time to first byte,
// idle gap between chunks, total duration) and notices clients that hang up while their
// request waits on an upstream.
//
// Thread-safe. An in-flight upstream attempt registers a Watch: a deadline it may move
// (e.g. after each chunk), the client's socket to poll for hang-up, and optionally a
// heartbeat to run at an interval. When the deadline passes or the client leaves, the
// watchdog calls the watch's `fire` once (which stops the upstream client: its blocking
// read returns). Deregistration (the Watch destructor) synchronises with firing, so
// `fire` never runs after the Watch is gone.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace signalbox {

// kShutdown: FireAll() at the end of the drain period, never a backend's fault.
enum class WatchReason { kNone = 0, kDeadline, kClientGone, kShutdown };

class Watchdog {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // The watchdog's time: the network calls it supervises measure their deadlines with it.
  static TimePoint Now() { return std::chrono::steady_clock::now(); }

  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    void SetDeadline(TimePoint t) {
      deadline_ns_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
    }
    // Why it fired (kNone if it did not).
    WatchReason fired() const { return static_cast<WatchReason>(fired_.load()); }

   private:
    friend class Watchdog;
    Watch(Watchdog* w) : wd_(w) {}
    Watchdog* wd_;
    std::atomic<int64_t> deadline_ns_{INT64_MAX};
    int client_fd_ = -1;
    std::function<void(WatchReason)> fire_;
    std::function<bool()> heartbeat_;  // returns false when the client is gone
    std::chrono::milliseconds heartbeat_every_{0};
    TimePoint next_heartbeat_{};
    std::atomic<int> fired_{0};
  };

  explicit Watchdog(std::chrono::milliseconds tick = std::chrono::milliseconds(50));
  ~Watchdog();

  // Registers a watch. `client_fd` < 0 = no hang-up poll. `heartbeat` may be empty.
  std::unique_ptr<Watch> Add(
      TimePoint deadline, int client_fd, std::function<void(WatchReason)> fire,
      std::function<bool()> heartbeat = nullptr,
      std::chrono::milliseconds heartbeat_every = std::chrono::milliseconds(0),
      TimePoint first_heartbeat = {});

  size_t size() const;
  // Fires every watch, now and from then on (shutdown after the drain period).
  void FireAll() { fire_all_.store(true); }

 private:
  void Run();
  void Check();
  void Remove(Watch* w);

  const std::chrono::milliseconds tick_;
  mutable std::mutex mu_;  // guards watches_ and every firing
  std::condition_variable cv_;
  std::unordered_set<Watch*> watches_;
  bool stop_ = false;
  std::atomic<bool> fire_all_{false};
  std::thread thread_;
};

}  // namespace signalbox
