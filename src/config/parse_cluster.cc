// The `cluster` section: Redis shared by every replica.
#include <fmt/format.h>

#include <charconv>

#include "config/parse_sections.h"
#include "config/units.h"

namespace signalbox::config_internal {
namespace {

using R = YamlReader;

// redis://[:password@]host[:port][/db] into the derived fields; "" when well-formed,
// else what is wrong. The password may contain anything but '@'.
std::string ParseRedisUrl(const std::string& url, ClusterConfig* c) {
  constexpr std::string_view kScheme = "redis://";
  if (url.rfind(kScheme, 0) != 0)
    return "must start with redis:// (redis://[:password@]host:port/db)";
  std::string rest = url.substr(kScheme.size());
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    // redis://:password@ (no user) or redis://default:password@ (Redis 6 ACL user).
    auto colon = auth.find(':');
    if (colon == std::string::npos) return "credentials must be written :password@";
    c->password = auth.substr(colon + 1);
    if (c->password.empty()) return "the password after ':' is empty";
  }
  std::string hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    hostport = rest.substr(0, slash);
    std::string db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), c->db);
      if (ec != std::errc() || p != db.data() + db.size() || c->db < 0 || c->db > 15) {
        return fmt::format("database '{}' must be a number from 0 to 15", db);
      }
    }
  }
  if (hostport.find(':') == std::string::npos) hostport += ":6379";
  if (!SplitHostPort(hostport, &c->host, &c->port) || c->host.empty() || c->port <= 0) {
    return "needs a host and an optional port: redis://host:6379/0";
  }
  return "";
}

}  // namespace

void ParseCluster(R& r, const YAML::Node& n, SourcePos parent, ClusterConfig* c) {
  const std::string p = "cluster";
  if (!r.ExpectMap(n, p, parent,
                   {"redis", "on_unavailable", "timeout", "lease", "key_prefix", "affinity_ttl"})) {
    return;
  }
  SourcePos pos = R::PosOf(n, parent);
  if (r.GetString(n, "redis", p, &c->redis) && !c->redis.empty()) {
    std::string err = ParseRedisUrl(c->redis, c);
    // Never echo the URL: it may carry the password.
    if (!err.empty()) r.Error(R::PosOf(n["redis"], pos), "cluster.redis", err);
  }
  std::string mode;
  if (r.GetString(n, "on_unavailable", p, &mode)) {
    if (mode == "local") {
      c->on_unavailable = OnUnavailable::kLocal;
    } else if (mode == "reject") {
      c->on_unavailable = OnUnavailable::kReject;
    } else {
      r.Error(R::PosOf(n["on_unavailable"], pos), "cluster.on_unavailable",
              fmt::format("must be local or reject, not '{}'", mode));
    }
  }
  if (r.GetDuration(n, "timeout", p, &c->timeout) &&
      (c->timeout < std::chrono::milliseconds(1) || c->timeout > std::chrono::seconds(10))) {
    r.Error(R::PosOf(n["timeout"], pos), "cluster.timeout", "must be from 1ms to 10s");
  }
  if (r.GetDuration(n, "lease", p, &c->lease) &&
      (c->lease < std::chrono::seconds(1) || c->lease > std::chrono::hours(1))) {
    r.Error(R::PosOf(n["lease"], pos), "cluster.lease", "must be from 1s to 1h");
  }
  if (r.GetDuration(n, "affinity_ttl", p, &c->affinity_ttl) &&
      (c->affinity_ttl < std::chrono::seconds(1) ||
       c->affinity_ttl > std::chrono::hours(24 * 365))) {
    r.Error(R::PosOf(n["affinity_ttl"], pos), "cluster.affinity_ttl", "must be from 1s to 365d");
  }
  if (r.GetString(n, "key_prefix", p, &c->key_prefix)) {
    for (char ch : c->key_prefix) {
      if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
        r.Error(R::PosOf(n["key_prefix"], pos), "cluster.key_prefix", "must not contain spaces");
        break;
      }
    }
  }
}

}  // namespace signalbox::config_internal
