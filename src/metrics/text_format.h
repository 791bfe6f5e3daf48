// Prometheus text exposition format 0.0.4: the few formatting rules in one place.
//
// Stateless free functions (thread-safe). Used by the families when a scrape renders
// them. What Prometheus and `promtool check metrics` require of this text:
//   - `# HELP name text` (text escapes `\\` and `\n`) and `# TYPE name type`, once per
//     family, before its samples, every family's samples contiguous;
//   - label values in double quotes escaping `\\`, `\"` and `\n`, valid UTF-8;
//   - values as Go's ParseFloat reads them: `+Inf`, `-Inf`, `NaN`, shortest round-trip
//     decimal otherwise, never a locale's decimal comma.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metric.h"

namespace signalbox::metrics {

// The Content-Type of GET /metrics.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string_view MetricTypeName(MetricType type);

// Appends a sample value.
void AppendValue(std::string& out, double v);

// `a="x",b="y"` for the given names and values, escaped, without braces. Rendered once
// per series at creation so scrapes only concatenate.
// REQUIRES: names.size() == values.size(); values are valid UTF-8.
std::string RenderLabels(const std::vector<std::string>& names,
                         std::span<const std::string> values);

// `# HELP` and `# TYPE` lines.
void AppendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type);

// One sample line: name+suffix, then `{labels}` (plus `le="..."` when `le` is not
// empty), then the value.
void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  std::string_view labels, std::string_view le, double value);

// Every sample line of one series. `labels` is a RenderLabels() result.
void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Counter& metric);
void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Gauge& metric);
void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Histogram& metric);

// Prometheus rejects label values that are not UTF-8; config values and header values
// could be anything: IsValidUtf8 / SanitizeUtf8 (common/utf8.h) replace each invalid
// byte by U+FFFD.

}  // namespace signalbox::metrics
