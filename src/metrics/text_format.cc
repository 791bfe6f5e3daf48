#include "metrics/text_format.h"

#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace switchyard::metrics {
namespace {

// Length of the valid UTF-8 sequence that starts at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

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

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SeqLen(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SeqLen(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace switchyard::metrics
