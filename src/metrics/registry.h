// Registry: the process's metric families and their Prometheus text exposition.
//
// Thread-safe and long-lived (it outlives config reloads). Families are registered at
// start-up and never removed, so the family and series references it hands out stay
// valid for its whole life. Recording on a series is lock-free (metric.h); a scrape
// holds each family's reader lock only while copying its series pointers, so it never
// delays recording and delays the creation of a new series by at most that copy.
//
//   metrics::Registry registry;
//   auto requests = registry.AddCounter("signalbox_requests_total", "Requests served.",
//                                       {"backend", "status"});
//   if (!requests.ok()) return requests.status();
//   metrics::Counter& ok_small = (*requests)->WithLabels({"small", "200"});  // keep it
//   ok_small.Inc();
//   std::string body = registry.Scrape();  // serve with metrics::kContentType
//
// Names are validated so the exposition passes `promtool check metrics`: snake_case
// metric and label names without ':', help text present, counters ending in `_total`
// and nothing else doing so, no `_bucket`/`_sum`/`_count` suffix outside histograms, no
// `le` or `quantile` label, no name a histogram's own series would collide with.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "metrics/family.h"
#include "metrics/metric.h"
#include "metrics/text_format.h"

namespace signalbox::metrics {

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* registers a family, or returns the existing one when a family with the
  // same name, type, help, labels (and buckets) exists, so registering twice is
  // harmless. A name already used differently, or an invalid name, label or bucket list
  // is kInvalidArgument. The returned pointer is never null and valid for the
  // Registry's life.
  StatusOr<CounterFamily*> AddCounter(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names);
  StatusOr<GaugeFamily*> AddGauge(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names);
  // `bounds`: upper bounds, strictly increasing, finite (a trailing +Inf is dropped; it
  // is always implicit). See ClassifierSecondsBuckets() and RequestSecondsBuckets().
  StatusOr<HistogramFamily*> AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds);
  // A gauge whose series `fn` computes at every scrape; see GaugeCallback.
  Status AddGaugeCallback(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names, GaugeCallback fn);

  // The text exposition (format 0.0.4) of every family, sorted by name.
  std::string Scrape() const;
  void AppendExposition(std::string& out) const;

 private:
  // Validates the name, help and labels. Returns the family already registered under
  // `name` when its type, help and labels match, nullptr when there is none, and an
  // error when it differs. REQUIRES: mu_ held exclusively.
  StatusOr<FamilyBase*> Check(std::string_view name, std::string_view help,
                              const std::vector<std::string>& label_names, MetricType type);
  template <typename Metric>
  StatusOr<Family<Metric>*> Add(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names,
                                typename Metric::Options options);

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;  // guarded by mu_
};

}  // namespace signalbox::metrics
