// Loading the YAML config: parse (keeping every node's position) -> validate (collect
// every problem) -> plain Config structs. The control plane calls this at start-up, on
// reload and from `signalbox check`; it may be slow and allocate freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/env_expand.h"

namespace signalbox {

struct LoadResult {
  std::optional<Config> config;       // set only when `errors` is empty
  std::vector<std::string> errors;    // "FILE:LINE:COL: path: message", in file order
  std::vector<std::string> warnings;  // same format; do not prevent loading
};

// Reads and validates the file at `path`.
LoadResult LoadConfigFile(const std::string& path, const EnvLookup& env = ProcessEnv());

// Validates YAML text; `file_label` prefixes the messages.
LoadResult LoadConfigText(std::string_view text, const std::string& file_label,
                          const EnvLookup& env = ProcessEnv());

// Adds problems another module found in r->config (see ConfigProblem) to r->errors, in
// the loader's format ("FILE:LINE:COL: path: message"); with any, r->config is cleared.
void AddProblems(LoadResult* r, std::string_view file_label,
                 const std::vector<ConfigProblem>& problems);

// Hex SHA-256 of bytes (used for config content hashes and key hashes).
std::string Sha256Hex(std::string_view bytes);

}  // namespace signalbox
