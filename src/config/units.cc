#include "config/units.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace signalbox {
namespace {

// Reads a non-negative decimal number (digits with an optional fraction) at s[i].
std::optional<double> ReadNumber(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == start) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data() + start, s.data() + i, v);
  if (ec != std::errc() || p != s.data() + i || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<Duration> ParseDuration(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  if (s == "0") return Duration(0);
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    auto num = ReadNumber(s, i);
    if (!num) return std::nullopt;
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(u, i - u);
    double mult;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else
      return std::nullopt;
    total_ms += *num * mult;
  }
  if (total_ms > 1e12) return std::nullopt;
  return Duration(static_cast<int64_t>(std::llround(total_ms)));
}

std::optional<uint64_t> ParseSize(std::string_view s) {
  s = Trim(s);
  size_t i = 0;
  auto num = ReadNumber(s, i);
  if (!num) return std::nullopt;
  std::string_view unit = Trim(s.substr(i));
  double mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "Ki")
    mult = 1024.0;
  else if (unit == "MiB" || unit == "Mi")
    mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "Gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB" || unit == "K" || unit == "k")
    mult = 1e3;
  else if (unit == "MB" || unit == "M")
    mult = 1e6;
  else if (unit == "GB" || unit == "G")
    mult = 1e9;
  else
    return std::nullopt;
  double v = *num * mult;
  if (v > 1e15 || v != std::floor(v)) return std::nullopt;
  return static_cast<uint64_t>(v);
}

std::string FormatDuration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 >= s.size()) return false;
  std::string h = s.substr(0, colon);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return false;  // IPv6 needs brackets
  }
  int pv = 0;
  const char* b = s.data() + colon + 1;
  const char* e = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(b, e, pv);
  if (ec != std::errc() || ptr != e || pv < 0 || pv > 65535) return false;
  *host = h;
  *port = pv;
  return true;
}

}  // namespace signalbox
