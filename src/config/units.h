// Parsing of the config's value syntaxes: durations ("500ms", "2s", "1m30s"), byte sizes
// ("8MiB", "512KiB", "1048576") and listen addresses. Pure functions, no YAML.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace signalbox {

// "0", "250ms", "2s", "1.5s", "5m", "1h", "1m30s". Units: ms, s, m, h. Negative and
// unit-less non-zero values are rejected (nullopt).
std::optional<Duration> ParseDuration(std::string_view s);

// "1024", "64KiB", "8MiB", "1GiB", also KB/MB/GB (decimal) and a trailing B.
std::optional<uint64_t> ParseSize(std::string_view s);

// Formats a duration the way the config writes it ("2s", "500ms", "0s").
std::string FormatDuration(Duration d);

// Splits "host:port" / "[v6]:port" (server.listen, serve --listen); false if malformed.
bool SplitHostPort(const std::string& s, std::string* host, int* port);

}  // namespace signalbox
