// The three kinds of Prometheus series a family holds: Counter, Gauge and Histogram.
//
// Each object is one series (one label-value tuple of a family). Thread-safe and
// lock-free: every recording method is a relaxed atomic operation, so the request path
// pays a few nanoseconds and never waits for a scrape. Relaxed ordering is enough
// because a scrape only needs each value to be some value the series really had; it
// does not need the values of different series to be mutually consistent.
//
// Objects are created and owned by a Family (family.h) and live as long as the
// Registry, so callers may keep a reference and skip the label lookup on hot paths.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

namespace signalbox::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing value, e.g. requests served or dollars spent.
// Thread-safe, lock-free.
class Counter {
 public:
  static constexpr MetricType kType = MetricType::kCounter;
  struct Options {};
  explicit Counter(const Options&) {}
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc() { value_.fetch_add(1.0, std::memory_order_relaxed); }
  // REQUIRES: v >= 0. A negative or NaN increment would break monotonicity (Prometheus
  // would read it as a counter reset), so it is ignored.
  void Add(double v) {
    if (v >= 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down, e.g. requests in flight. Thread-safe, lock-free.
class Gauge {
 public:
  static constexpr MetricType kType = MetricType::kGauge;
  struct Options {};
  explicit Gauge(const Options&) {}
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Inc() { Add(1.0); }
  void Dec() { Add(-1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A distribution over fixed buckets, e.g. request latency in seconds.
//
// Thread-safe, lock-free. Each bucket is a plain (non-cumulative) atomic count; the
// exposition makes them cumulative and derives `_count` from their sum, so the
// `le="+Inf"` bucket always equals `_count` even when a scrape races an Observe().
// `_sum` is a separate atomic and may lag or lead the counts by the observations in
// flight at scrape time, which Prometheus tolerates (rates over a window are unaffected).
class Histogram {
 public:
  static constexpr MetricType kType = MetricType::kHistogram;
  struct Options {
    // Upper bounds, strictly increasing and finite; "+Inf" is implicit. Validated by
    // the Registry before any Histogram is built.
    std::vector<double> bounds;
  };
  // REQUIRES: `options` outlives this object (the owning Family keeps it).
  explicit Histogram(const Options& options);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one observation. NaN is ignored: it would poison `_sum` for good.
  void Observe(double v);

  // A point-in-time copy for exposition and tests.
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then the +Inf bucket
    uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  // bounds_.size() + 1 counters; the last one is the +Inf bucket.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

// Bucket presets (upper bounds in seconds, the Prometheus base unit).
//
// The classifier runs in microseconds on short prompts and up to milliseconds on long
// ones: 1 us .. 10 ms in 1-2.5-5 steps.
std::vector<double> ClassifierSecondsBuckets();
// End-to-end request duration and time to first token: 5 ms (a cached or tiny answer)
// up to 10 minutes (the longest timeout a client SDK allows).
std::vector<double> RequestSecondsBuckets();
// `count` bounds start, start*factor, ... REQUIRES: start > 0, factor > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

}  // namespace signalbox::metrics
