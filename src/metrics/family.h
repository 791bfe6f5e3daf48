// Metric families: a name, help text and fixed label names, with one series per
// label-value tuple.
//
// Family<Metric> is thread-safe. Looking a series up takes a reader lock on a sorted
// map (no allocation when the series exists); creating one takes the writer lock once.
// Series are never removed, so a returned reference stays valid for the family's (and
// so the Registry's) life: hot paths look a series up once and keep it. Calling
// WithLabels() at start-up for the label sets known in advance pre-creates them, so
// they export 0 instead of being missing.
//
// CallbackGaugeFamily is thread-safe if its callback is: its series are computed by
// the callback at every scrape (e.g. backend health read from live state).
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metric.h"
#include "metrics/text_format.h"

namespace signalbox::metrics {

// Orders label-value tuples lexicographically; transparent so a tuple of string_views
// finds a stored tuple of strings without building one.
struct LabelsLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

// What every family has, and how a scrape renders it. Immutable apart from its series.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }

  // Appends `# HELP`, `# TYPE` and every series, or nothing when there is no series
  // (a family without samples tells a dashboard nothing).
  virtual void AppendTo(std::string& out) const = 0;

 protected:
  // Label values as the exposition needs them: exactly one per label name (a wrong
  // count is a caller bug; it is padded with "" or truncated, and logged once per
  // family) and valid UTF-8.
  std::vector<std::string> Normalize(std::span<const std::string_view> values) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const MetricType type_;
  mutable std::atomic<bool> warned_arity_{false};
};

template <typename Metric>
class Family final : public FamilyBase {
 public:
  // Built by the Registry, which validates the arguments first.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         typename Metric::Options options);

  // The series for `values` (one per label name, in order), created on first use.
  // The reference is valid for the Registry's life.
  Metric& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Metric& WithLabels(std::span<const std::string_view> values);
  Metric& WithLabels(const std::vector<std::string>& values);

  // Number of series.
  size_t size() const;
  const typename Metric::Options& options() const { return options_; }

  void AppendTo(std::string& out) const override;

 private:
  struct Series {
    std::string labels;  // rendered once: `a="x",b="y"`
    std::unique_ptr<Metric> metric;
  };
  // Returns the series or nullptr; takes the reader lock.
  template <typename Range>
  Metric* Find(const Range& values) const;
  // Creates the series (or finds it if another thread just did); takes the writer lock.
  Metric& Insert(std::span<const std::string_view> values);

  const typename Metric::Options options_;  // Histogram series point into it
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, Series, LabelsLess> series_;  // guarded by mu_
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// One series a gauge callback reports.
struct GaugeSample {
  std::vector<std::string> label_values;  // one per label name, in order
  double value = 0;
};
// Appends the current series to `out`. Called at every scrape, possibly from several
// scraping threads at once, without any registry lock held; it must be thread-safe, must
// not block for long, and must not register metrics. An exception it throws is caught
// and the family is left out of that scrape.
using GaugeCallback = std::function<void(std::vector<GaugeSample>& out)>;

class CallbackGaugeFamily final : public FamilyBase {
 public:
  CallbackGaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
                      GaugeCallback fn)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), MetricType::kGauge),
        fn_(std::move(fn)) {}

  // Duplicate label tuples keep the first value; series are sorted by label values.
  void AppendTo(std::string& out) const override;

 private:
  const GaugeCallback fn_;
};

}  // namespace signalbox::metrics
