// Clock: the injected source of time. Budget windows, circuit breakers and timeouts read
// time only through a Clock so tests can move it by hand.
//
// Thread-safe: RealClock is stateless; FakeClock uses atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace signalbox {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for durations and deadlines.
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  // Wall-clock time for budget windows and log timestamps.
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
  // Waits `d` (a retry's backoff). A fake clock moves by `d` instead.
  virtual void SleepFor(std::chrono::nanoseconds d) const = 0;

  // The process-wide real clock.
  static const Clock& Real();
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds d) const override;
};

// A clock that moves only when told to. Starts at the given wall time.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point wall_start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)))
      : wall_ns_(wall_start.time_since_epoch() / std::chrono::nanoseconds(1)) {}

  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(mono_ns_.load()));
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(wall_ns_.load())));
  }
  void Advance(std::chrono::nanoseconds d) const {
    mono_ns_ += d.count();
    wall_ns_ += d.count();
  }
  void SleepFor(std::chrono::nanoseconds d) const override { Advance(d); }
  void SetWall(std::chrono::system_clock::time_point t) {
    wall_ns_ = t.time_since_epoch() / std::chrono::nanoseconds(1);
  }

 private:
  mutable std::atomic<int64_t> mono_ns_{1'000'000'000};
  mutable std::atomic<int64_t> wall_ns_;
};

}  // namespace signalbox
