#include "runtime/config_load.h"

#include "classify/classifier.h"

namespace signalbox {
namespace {

LoadResult Checked(LoadResult r, std::string_view file_label) {
  if (r.config) AddProblems(&r, file_label, classify::CheckConfig(r.config->classifier));
  return r;
}

}  // namespace

LoadResult LoadCheckedConfigFile(const std::string& path, const EnvLookup& env) {
  return Checked(LoadConfigFile(path, env), path);
}

LoadResult LoadCheckedConfigText(std::string_view text, const std::string& file_label,
                                 const EnvLookup& env) {
  return Checked(LoadConfigText(text, file_label, env), file_label);
}

}  // namespace signalbox
