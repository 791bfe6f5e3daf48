// Test helper: reads a text exposition back into `series -> value`, where a series is
// the sample line up to its value (`name{labels}`). Enough to check values and
// invariants; promtool_test.cc checks the format itself. Throws on a malformed line
// (usable from any thread).
#pragma once

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace signalbox::metrics::testing {

inline std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) throw std::runtime_error("no value in: " + line);
    std::string value = line.substr(space + 1);
    double v = value == "+Inf" ? INFINITY : value == "-Inf" ? -INFINITY : std::stod(value);
    out[line.substr(0, space)] = v;
  }
  return out;
}

}  // namespace signalbox::metrics::testing
