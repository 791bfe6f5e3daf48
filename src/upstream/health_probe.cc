#include "upstream/health_probe.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "upstream/client_pool.h"
#include "upstream/upstream_call.h"

namespace signalbox {

bool ProbeHealth(const BackendConfig& b) {
  ClientSettings s = ClientSettings::For(b);
  httplib::Client cli(s.scheme_host_port);
  const auto cap = std::chrono::milliseconds(5000);
  cli.set_connection_timeout(std::min(b.timeouts.connect, cap));
  cli.set_read_timeout(std::min(b.timeouts.first_byte, cap));
  cli.set_follow_location(false);
  cli.enable_server_certificate_verification(true);
  httplib::Headers h;
  if (auto auth = AuthHeader(b)) h.emplace(auth->first, auth->second);
  for (const auto& [k, v] : b.headers) h.emplace(k, v);
  auto res = cli.Get(b.base_path + b.health_check.path, h);
  return res && res->status >= 200 && res->status < 300;
}

}  // namespace signalbox
