#include "metrics/family.h"

#include <mutex>
#include <utility>

#include "common/log.h"
#include "common/utf8.h"

namespace signalbox::metrics {

std::vector<std::string> FamilyBase::Normalize(std::span<const std::string_view> values) const {
  if (values.size() != label_names_.size() &&
      !warned_arity_.exchange(true, std::memory_order_relaxed)) {
    Log(LogLevel::kError, "metric recorded with the wrong number of label values")
        .Field("metric", name_)
        .Field("want", label_names_.size())
        .Field("got", values.size());
  }
  std::vector<std::string> out;
  out.reserve(label_names_.size());
  for (size_t i = 0; i < label_names_.size(); ++i) {
    std::string_view v = i < values.size() ? values[i] : std::string_view();
    out.push_back(IsValidUtf8(v) ? std::string(v) : SanitizeUtf8(v));
  }
  return out;
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       typename Metric::Options options)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names), Metric::kType),
      options_(std::move(options)) {
  // A family without labels has exactly one series; create it so it exports 0 at once.
  if (this->label_names().empty()) Insert(std::span<const std::string_view>());
}

template <typename Metric>
template <typename Range>
Metric* Family<Metric>::Find(const Range& values) const {
  std::shared_lock lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? nullptr : it->second.metric.get();
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::span<const std::string_view> values) {
  if (values.size() == label_names().size()) {
    if (Metric* m = Find(values)) return *m;
  }
  return Insert(values);
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() == label_names().size()) {
    if (Metric* m = Find(values)) return *m;
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  return Insert(views);
}

template <typename Metric>
Metric& Family<Metric>::Insert(std::span<const std::string_view> values) {
  // The stored key is the normalized tuple. A caller passing invalid UTF-8 therefore
  // misses the first lookup every time, and finds its series here under the reader lock.
  std::vector<std::string> key = Normalize(values);
  if (Metric* m = Find(key)) return *m;
  std::string labels = RenderLabels(label_names(), key);
  std::unique_lock lock(mu_);
  auto [it, inserted] = series_.try_emplace(std::move(key));
  if (inserted) {
    it->second.labels = std::move(labels);
    it->second.metric = std::make_unique<Metric>(options_);
  }
  return *it->second.metric;
}

template <typename Metric>
size_t Family<Metric>::size() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <typename Metric>
void Family<Metric>::AppendTo(std::string& out) const {
  // Copy the series pointers under the reader lock, then format without it: recording
  // never takes the lock, and series creation waits only for this copy.
  std::vector<std::pair<const std::string*, const Metric*>> series;
  {
    std::shared_lock lock(mu_);
    series.reserve(series_.size());
    for (const auto& [key, s] : series_) series.emplace_back(&s.labels, s.metric.get());
  }
  if (series.empty()) return;
  AppendHeader(out, name(), help(), type());
  for (const auto& [labels, metric] : series) AppendSeries(out, name(), *labels, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void CallbackGaugeFamily::AppendTo(std::string& out) const {
  std::vector<GaugeSample> samples;
  try {
    fn_(samples);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "metric callback failed")
        .Field("metric", name())
        .Field("error", e.what());
    return;
  } catch (...) {
    Log(LogLevel::kError, "metric callback failed").Field("metric", name());
    return;
  }
  std::vector<std::pair<std::vector<std::string>, double>> rows;
  rows.reserve(samples.size());
  for (GaugeSample& s : samples) {
    std::vector<std::string_view> views(s.label_values.begin(), s.label_values.end());
    rows.emplace_back(Normalize(views), s.value);
  }
  // Sort by labels only; stable so the first of several duplicates is the one kept.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return LabelsLess()(a.first, b.first); });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const auto& a, const auto& b) { return a.first == b.first; }),
             rows.end());
  if (rows.empty()) return;
  AppendHeader(out, name(), help(), type());
  for (const auto& [values, value] : rows) {
    AppendSample(out, name(), "", RenderLabels(label_names(), values), "", value);
  }
}

}  // namespace signalbox::metrics
