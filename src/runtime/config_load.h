// Loading a config to use it: the loader's checks (config/) and those of the modules that
// own part of its vocabulary (classify/: signal names), so that config/ need not depend
// on them. The gateway's reloads and every CLI verb load through here.
#pragma once

#include <string>
#include <string_view>

#include "config/loader.h"

namespace signalbox {

LoadResult LoadCheckedConfigFile(const std::string& path, const EnvLookup& env = ProcessEnv());
LoadResult LoadCheckedConfigText(std::string_view text, const std::string& file_label,
                                 const EnvLookup& env = ProcessEnv());

}  // namespace signalbox
