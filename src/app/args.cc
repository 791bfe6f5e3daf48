#include "app/args.h"

#include <cstdlib>

namespace signalbox::app {

std::optional<std::string> Args::Get(const std::string& f) const {
  auto it = flags.find(f);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::GetAll(const std::string& f) const {
  std::vector<std::string> out;
  auto [b, e] = flags.equal_range(f);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::string Args::ConfigPath() const {
  if (auto c = Get("config")) return *c;
  if (const char* env = std::getenv("SIGNALBOX_CONFIG"); env != nullptr && *env != '\0') return env;
  return "config/signalbox.yaml";
}

std::optional<Args> ParseArgs(int argc, char** argv, int first, const std::vector<FlagSpec>& spec,
                              std::string* error) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      a.help = true;
      continue;
    }
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      std::optional<std::string> value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const FlagSpec* fs = nullptr;
      for (const auto& s : spec) {
        if (s.name == name) fs = &s;
      }
      if (fs == nullptr) {
        *error = "unknown flag --" + name;
        return std::nullopt;
      }
      if (fs->takes_value && !value) {
        if (i + 1 >= argc) {
          *error = "--" + name + " needs a value";
          return std::nullopt;
        }
        value = argv[++i];
      }
      if (!fs->takes_value && value) {
        *error = "--" + name + " takes no value";
        return std::nullopt;
      }
      if (!fs->repeatable && a.flags.count(name)) {
        *error = "--" + name + " given twice";
        return std::nullopt;
      }
      a.flags.emplace(name, value.value_or(""));
      continue;
    }
    a.positional.push_back(arg);
  }
  return a;
}

}  // namespace signalbox::app
