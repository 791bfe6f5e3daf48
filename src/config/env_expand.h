// ${VAR} and ${VAR:-default} expansion inside one scalar value of the config.
//
// Expansion happens per scalar after YAML parsing, never across the file, so positions
// stay true and a variable's value cannot inject YAML. `$$` yields a literal `$`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace signalbox {

// Returns the value of an environment variable, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// Expands every ${...} in `in`. ${VAR} with VAR unset is an InvalidArgument naming VAR;
// ${VAR:-default} gives default when VAR is unset or empty; ${VAR-default} only when
// unset. A malformed reference (no closing brace, bad name) is an error too.
StatusOr<std::string> ExpandEnv(std::string_view in, const EnvLookup& env);

}  // namespace signalbox
