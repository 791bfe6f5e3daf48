// The effective config as JSON (for GET /admin/config), secrets redacted: backend
// api_keys, the admin token and gateway key hashes never leave the process.
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace signalbox {

nlohmann::json ConfigToJson(const Config& cfg);

}  // namespace signalbox
