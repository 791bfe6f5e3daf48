// One active health check of one deployment: `GET <url><health_check.path>` with the
// deployment's auth and headers, connect and first-byte timeouts capped at 5 s, no
// redirects, certificates verified. Blocking; thread-safe (no shared state).
#pragma once

#include "config/config.h"

namespace signalbox {

// True when the deployment answered 2xx. `b` is the deployment's effective config.
bool ProbeHealth(const BackendConfig& b);

}  // namespace signalbox
