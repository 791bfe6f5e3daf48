#include "metrics/registry.h"

#include <fmt/format.h>

#include <cmath>
#include <mutex>
#include <set>
#include <utility>

#include "common/utf8.h"

namespace signalbox::metrics {
namespace {

// Lower-case snake_case: what Prometheus accepts (minus ':', reserved for recording
// rules) and what promtool's camel-case lint wants.
bool IsSnakeName(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status CheckName(std::string_view name, MetricType type) {
  if (!IsSnakeName(name)) {
    return InvalidArgument(
        fmt::format("metric name '{}' must be lower-case snake_case ([a-z_][a-z0-9_]*)", name));
  }
  bool is_counter = type == MetricType::kCounter;
  if (is_counter != EndsWith(name, "_total")) {
    return InvalidArgument(fmt::format("metric '{}': {}", name,
                                       is_counter ? "a counter's name must end in _total"
                                                  : "only a counter's name may end in _total"));
  }
  // A histogram `h` exposes h_bucket, h_sum and h_count; no family may end in those, so
  // none can collide with a histogram's series and promtool's reserved-suffix lint holds.
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (EndsWith(name, suffix)) {
      return InvalidArgument(
          fmt::format("metric '{}': the suffix {} is reserved for histograms", name, suffix));
    }
  }
  return Status::Ok();
}

Status CheckLabels(std::string_view name, const std::vector<std::string>& label_names) {
  std::set<std::string_view> seen;
  for (const std::string& l : label_names) {
    if (!IsSnakeName(l) || l.starts_with("__")) {
      return InvalidArgument(fmt::format(
          "metric '{}': label name '{}' must be snake_case not starting with __", name, l));
    }
    if (l == "le" || l == "quantile") {
      return InvalidArgument(fmt::format("metric '{}': label name '{}' is reserved", name, l));
    }
    if (!seen.insert(l).second) {
      return InvalidArgument(fmt::format("metric '{}': label '{}' repeated", name, l));
    }
  }
  return Status::Ok();
}

Status CheckBounds(std::string_view name, std::vector<double>& bounds) {
  if (!bounds.empty() && bounds.back() == INFINITY) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      return InvalidArgument(fmt::format(
          "histogram '{}': bucket bounds must be finite and strictly increasing", name));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<FamilyBase*> Registry::Check(std::string_view name, std::string_view help,
                                      const std::vector<std::string>& label_names,
                                      MetricType type) {
  if (Status s = CheckName(name, type); !s.ok()) return s;
  if (help.empty()) return InvalidArgument(fmt::format("metric '{}': help text is empty", name));
  if (Status s = CheckLabels(name, label_names); !s.ok()) return s;
  auto it = families_.find(name);
  if (it == families_.end()) return static_cast<FamilyBase*>(nullptr);
  const FamilyBase& old = *it->second;
  if (old.type() != type || old.help() != help || old.label_names() != label_names) {
    return InvalidArgument(
        fmt::format("metric '{}' is already registered with another type, help or labels", name));
  }
  return it->second.get();
}

template <typename Metric>
StatusOr<Family<Metric>*> Registry::Add(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        typename Metric::Options options) {
  std::string clean_help = SanitizeUtf8(help);
  std::unique_lock lock(mu_);
  StatusOr<FamilyBase*> existing = Check(name, clean_help, label_names, Metric::kType);
  if (!existing.ok()) return existing.status();
  if (*existing != nullptr) {
    // A callback gauge of that name is not a Family<Gauge>.
    auto* family = dynamic_cast<Family<Metric>*>(*existing);
    if constexpr (std::is_same_v<Metric, Histogram>) {
      if (family != nullptr && family->options().bounds != options.bounds) family = nullptr;
    }
    if (family == nullptr) {
      return InvalidArgument(fmt::format("metric '{}' is already registered differently", name));
    }
    return family;
  }
  auto family = std::make_unique<Family<Metric>>(std::string(name), std::move(clean_help),
                                                 std::move(label_names), std::move(options));
  Family<Metric>* out = family.get();
  families_.emplace(std::string(name), std::move(family));
  return out;
}

StatusOr<CounterFamily*> Registry::AddCounter(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names) {
  return Add<Counter>(name, help, std::move(label_names), {});
}

StatusOr<GaugeFamily*> Registry::AddGauge(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, std::move(label_names), {});
}

StatusOr<HistogramFamily*> Registry::AddHistogram(std::string_view name, std::string_view help,
                                                  std::vector<std::string> label_names,
                                                  std::vector<double> bounds) {
  if (Status s = CheckBounds(name, bounds); !s.ok()) return s;
  return Add<Histogram>(name, help, std::move(label_names), Histogram::Options{std::move(bounds)});
}

Status Registry::AddGaugeCallback(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names, GaugeCallback fn) {
  if (!fn) return InvalidArgument(fmt::format("metric '{}': callback is empty", name));
  std::string clean_help = SanitizeUtf8(help);
  std::unique_lock lock(mu_);
  StatusOr<FamilyBase*> existing = Check(name, clean_help, label_names, MetricType::kGauge);
  if (!existing.ok()) return existing.status();
  // Two callbacks cannot be compared, so a second registration is always an error.
  if (*existing != nullptr) {
    return InvalidArgument(fmt::format("metric '{}' is already registered", name));
  }
  families_.emplace(std::string(name),
                    std::make_unique<CallbackGaugeFamily>(std::string(name), std::move(clean_help),
                                                          std::move(label_names), std::move(fn)));
  return Status::Ok();
}

void Registry::AppendExposition(std::string& out) const {
  // Copy the family pointers, then render without the registry lock: gauge callbacks
  // run during rendering and may be slow, and must not hold up a registration.
  std::vector<const FamilyBase*> families;
  {
    std::shared_lock lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  for (const FamilyBase* family : families) family->AppendTo(out);
}

std::string Registry::Scrape() const {
  std::string out;
  out.reserve(16 * 1024);
  AppendExposition(out);
  return out;
}

}  // namespace signalbox::metrics
