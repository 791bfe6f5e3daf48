// Command-line parsing shared by the verbs: `signalbox VERB [flags] [args]`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace signalbox::app {

struct FlagSpec {
  std::string name;  // without dashes, e.g. "config"
  bool takes_value;  // --name VALUE (or --name=VALUE)
  bool repeatable = false;
};

struct Args {
  std::string verb;
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> flags;  // name -> value ("" for switches)
  bool help = false;

  bool Has(const std::string& f) const { return flags.count(f) > 0; }
  std::optional<std::string> Get(const std::string& f) const;
  std::vector<std::string> GetAll(const std::string& f) const;
  // --config, else $SIGNALBOX_CONFIG, else config/signalbox.yaml.
  std::string ConfigPath() const;
};

// Parses argv[first..]. On a usage error returns nullopt and fills `error`.
std::optional<Args> ParseArgs(int argc, char** argv, int first, const std::vector<FlagSpec>& spec,
                              std::string* error);

}  // namespace signalbox::app
