#include "metrics/text_format.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace signalbox::metrics {
namespace {

void AppendEscaped(std::string& out, std::string_view s, bool escape_quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    // fmt's "{}" is the shortest round-trip form and ignores the C locale.
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

std::string RenderLabels(const std::vector<std::string>& names,
                         std::span<const std::string> values) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], /*escape_quote=*/true);
    out += '"';
  }
  return out;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  AppendEscaped(out, help, /*escape_quote=*/false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += MetricTypeName(type);
  out += '\n';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  std::string_view labels, std::string_view le, double value) {
  out += name;
  out += suffix;
  if (!labels.empty() || !le.empty()) {
    out += '{';
    out += labels;
    if (!le.empty()) {
      if (!labels.empty()) out += ',';
      out += "le=\"";
      out += le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, value);
  out += '\n';
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Counter& metric) {
  AppendSample(out, name, "", labels, "", metric.Value());
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Gauge& metric) {
  AppendSample(out, name, "", labels, "", metric.Value());
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Histogram& metric) {
  Histogram::Snapshot snap = metric.Read();
  const std::vector<double>& bounds = metric.bounds();
  std::string le;
  for (size_t i = 0; i < bounds.size(); ++i) {
    le.clear();
    AppendValue(le, bounds[i]);
    AppendSample(out, name, "_bucket", labels, le, static_cast<double>(snap.cumulative[i]));
  }
  AppendSample(out, name, "_bucket", labels, "+Inf", static_cast<double>(snap.count));
  AppendSample(out, name, "_sum", labels, "", snap.sum);
  AppendSample(out, name, "_count", labels, "", static_cast<double>(snap.count));
}

}  // namespace signalbox::metrics
