// The `server` and `backends` sections.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "config/parse_sections.h"
#include "config/units.h"

namespace signalbox::config_internal {
using R = YamlReader;

bool IsHeaderToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos))
      return false;
  }
  return true;
}

namespace {

bool IsHeaderValue(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ParseTimeouts(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
                   BackendTimeouts* t) {
  if (!r.ExpectMap(n, p, parent, {"connect", "first_byte", "idle", "total"})) return;
  r.GetDuration(n, "connect", p, &t->connect);
  r.GetDuration(n, "first_byte", p, &t->first_byte);
  r.GetDuration(n, "idle", p, &t->idle);
  r.GetDuration(n, "total", p, &t->total);
  SourcePos pos = R::PosOf(n, parent);
  if (t->connect.count() <= 0 || t->first_byte.count() <= 0 || t->idle.count() <= 0 ||
      t->total.count() <= 0) {
    r.Error(pos, p, "every timeout must be greater than 0");
  }
  if (t->first_byte > t->total) r.Error(pos, p, "first_byte must not exceed total");
}

}  // namespace

void ParseUpstreamHeaders(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
                          std::vector<std::pair<std::string, std::string>>* out) {
  if (!r.ExpectFreeMap(n, p, parent)) return;
  static const std::set<std::string> kReserved = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection"};
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string name = it->first.Scalar();
    std::string hp = R::Join(p, name);
    SourcePos kp = R::PosOf(it->first, R::PosOf(n, parent));
    if (!IsHeaderToken(name)) {
      r.Error(kp, hp, "is not a valid header name");
      continue;
    }
    if (kReserved.count(Lower(name))) {
      r.Error(kp, hp, "is managed by the gateway and cannot be set");
      continue;
    }
    auto v = r.Scalar(it->second, hp, kp);
    if (!v) continue;
    if (!IsHeaderValue(*v)) {
      r.Error(kp, hp, "value contains control characters (CR, LF or NUL)");
      continue;
    }
    out->emplace_back(name, std::move(*v));
  }
}

namespace {

void ParseBackend(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
                  BackendConfig* b) {
  if (!r.ExpectMap(n, p, parent,
                   {"name", "url", "model", "api_key", "price", "context_window", "max_concurrency",
                    "timeouts", "retries", "circuit", "health_check", "auth", "headers",
                    "stream_usage", "api", "deployments", "balance", "affinity"})) {
    return;
  }
  SourcePos pos = R::PosOf(n, parent);
  b->pos = pos;
  if (!r.GetString(n, "name", p, &b->name) || b->name.empty()) {
    r.Error(pos, R::Join(p, "name"), "is required");
  } else {
    for (char c : b->name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        r.Error(R::PosOf(n["name"], pos), R::Join(p, "name"),
                "may contain only letters, digits, '-', '_' and '.'");
        break;
      }
    }
  }
  ParseEndpoints(r, n, p, pos, b);
  if (!r.GetString(n, "model", p, &b->model) || b->model.empty()) {
    r.Error(pos, R::Join(p, "model"), "is required (the model name sent upstream)");
  }
  r.GetString(n, "api_key", p, &b->api_key);
  if (n["price"].IsDefined() && !n["price"].IsNull()) {
    std::string pp = R::Join(p, "price");
    if (r.ExpectMap(n["price"], pp, pos,
                    {"input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                     "cache_write_per_mtok"})) {
      r.GetDouble(n["price"], "input_per_mtok", pp, &b->price.input_per_mtok, 0, 1e6);
      r.GetDouble(n["price"], "output_per_mtok", pp, &b->price.output_per_mtok, 0, 1e6);
      double d = 0;
      if (r.GetDouble(n["price"], "cached_input_per_mtok", pp, &d, 0, 1e6))
        b->price.cached_input_per_mtok = d;
      if (r.GetDouble(n["price"], "cache_write_per_mtok", pp, &d, 0, 1e6))
        b->price.cache_write_per_mtok = d;
    }
  }
  r.GetInt(n, "context_window", p, &b->context_window, 0, 100'000'000);
  int64_t v = 0;
  if (r.GetInt(n, "max_concurrency", p, &v, 1, 1'000'000)) b->max_concurrency = static_cast<int>(v);
  if (r.GetInt(n, "retries", p, &v, 0, 10)) b->retries = static_cast<int>(v);
  if (n["timeouts"].IsDefined() && !n["timeouts"].IsNull()) {
    ParseTimeouts(r, n["timeouts"], R::Join(p, "timeouts"), pos, &b->timeouts);
  }
  if (n["circuit"].IsDefined() && !n["circuit"].IsNull()) {
    std::string cp = R::Join(p, "circuit");
    if (r.ExpectMap(n["circuit"], cp, pos, {"failures", "cooldown"})) {
      if (r.GetInt(n["circuit"], "failures", cp, &v, 1, 1'000'000))
        b->circuit.failures = static_cast<int>(v);
      if (r.GetDuration(n["circuit"], "cooldown", cp, &b->circuit.cooldown) &&
          b->circuit.cooldown.count() <= 0) {
        r.Error(R::PosOf(n["circuit"]["cooldown"], pos), R::Join(cp, "cooldown"),
                "must be greater than 0");
      }
    }
  }
  if (n["health_check"].IsDefined() && !n["health_check"].IsNull()) {
    std::string hp = R::Join(p, "health_check");
    if (r.ExpectMap(n["health_check"], hp, pos, {"interval", "path"})) {
      r.GetDuration(n["health_check"], "interval", hp, &b->health_check.interval);
      if (r.GetString(n["health_check"], "path", hp, &b->health_check.path) &&
          (b->health_check.path.empty() || b->health_check.path[0] != '/')) {
        r.Error(R::PosOf(n["health_check"]["path"], pos), R::Join(hp, "path"),
                "must start with '/'");
      }
    }
  }
  std::string auth;
  if (r.GetString(n, "auth", p, &auth)) {
    if (auth == "bearer")
      b->auth = AuthMode::kBearer;
    else if (auth == "api-key")
      b->auth = AuthMode::kApiKey;
    else if (auth == "x-api-key")
      b->auth = AuthMode::kXApiKey;
    else if (auth == "none")
      b->auth = AuthMode::kNone;
    else
      r.Error(R::PosOf(n["auth"], pos), R::Join(p, "auth"),
              "must be bearer, api-key, x-api-key or none");
  }
  std::vector<std::string> apis;
  if (r.GetStringList(n, "api", p, &apis)) {
    b->api.clear();
    for (const auto& a : apis) {
      std::optional<ApiFamily> f = a == "chat"        ? std::optional(ApiFamily::kChat)
                                   : a == "responses" ? std::optional(ApiFamily::kResponses)
                                   : a == "messages"  ? std::optional(ApiFamily::kMessages)
                                                      : std::nullopt;
      if (!f) {
        r.Error(R::PosOf(n["api"], pos), R::Join(p, "api"),
                fmt::format("'{}' is not an API: use chat, responses or messages", a));
      } else if (!b->Serves(*f)) {
        b->api.push_back(*f);
      }
    }
    if (apis.empty()) r.Error(R::PosOf(n["api"], pos), R::Join(p, "api"), "must not be empty");
  }
  if (n["headers"].IsDefined() && !n["headers"].IsNull()) {
    ParseUpstreamHeaders(r, n["headers"], R::Join(p, "headers"), pos, &b->headers);
  }
  r.GetBool(n, "stream_usage", p, &b->stream_usage);
}

}  // namespace

void ParseServer(R& r, const YAML::Node& n, SourcePos parent, ServerConfig* s) {
  const std::string p = "server";
  if (!r.ExpectMap(n, p, parent,
                   {"listen", "admin_token", "max_body_bytes", "max_streams", "max_headers",
                    "max_header_bytes", "max_connections", "min_body_rate", "lingering_close",
                    "access_log", "sse_heartbeat", "forwarded_for", "retry_budget", "timeouts",
                    "response_affinity_entries"})) {
    return;
  }
  SourcePos pos = R::PosOf(n, parent);
  if (r.GetString(n, "listen", p, &s->listen)) {
    std::string h;
    int port;
    if (!SplitHostPort(s->listen, &h, &port)) {
      r.Error(R::PosOf(n["listen"], pos), "server.listen", "must be HOST:PORT, e.g. 0.0.0.0:8080");
    }
  }
  r.GetString(n, "admin_token", p, &s->admin_token);
  if (r.GetSize(n, "max_body_bytes", p, &s->max_body_bytes) &&
      (s->max_body_bytes < 1024 || s->max_body_bytes > (1ull << 30))) {
    r.Error(R::PosOf(n["max_body_bytes"], pos), "server.max_body_bytes",
            "must be between 1KiB and 1GiB");
  }
  if (r.GetSize(n, "max_header_bytes", p, &s->max_header_bytes) &&
      (s->max_header_bytes < 1024 || s->max_header_bytes > (1ull << 20))) {
    r.Error(R::PosOf(n["max_header_bytes"], pos), "server.max_header_bytes",
            "must be between 1KiB and 1MiB");
  }
  int64_t v = 0;
  if (r.GetInt(n, "max_streams", p, &v, 1, 1'000'000)) s->max_streams = static_cast<int>(v);
  if (r.GetInt(n, "max_headers", p, &v, 8, 10'000)) s->max_headers = static_cast<int>(v);
  if (r.GetInt(n, "max_connections", p, &v, 16, 1'000'000))
    s->max_connections = static_cast<int>(v);
  if (r.GetInt(n, "response_affinity_entries", p, &v, 1, 100'000'000))
    s->response_affinity_entries = static_cast<int>(v);
  if (r.GetSize(n, "min_body_rate", p, &s->min_body_rate) &&
      (s->min_body_rate < 1 || s->min_body_rate > (1ull << 30))) {
    r.Error(R::PosOf(n["min_body_rate"], pos), "server.min_body_rate",
            "must be between 1 and 1GiB (bytes per second)");
  }
  if (n["lingering_close"].IsDefined() && !n["lingering_close"].IsNull()) {
    std::string lp = "server.lingering_close";
    const YAML::Node& l = n["lingering_close"];
    if (r.ExpectMap(l, lp, pos, {"time", "idle", "max_bytes"})) {
      LingeringCloseConfig& lc = s->lingering_close;
      r.GetDuration(l, "time", lp, &lc.time);
      r.GetDuration(l, "idle", lp, &lc.idle);
      r.GetSize(l, "max_bytes", lp, &lc.max_bytes);
      if (lc.time > std::chrono::minutes(10)) {
        r.Error(R::PosOf(l["time"], R::PosOf(l, pos)), lp + ".time",
                "must be at most 10m (0 = off)");
      }
      if (lc.time.count() > 0 && (lc.idle.count() < 100 || lc.idle > lc.time)) {
        r.Error(R::PosOf(l["idle"], R::PosOf(l, pos)), lp + ".idle",
                "must be between 100ms and lingering_close.time");
      }
      if (lc.max_bytes > (1ull << 32)) {
        r.Error(R::PosOf(l["max_bytes"], R::PosOf(l, pos)), lp + ".max_bytes",
                "must be at most 4GiB");
      }
    }
  }
  r.GetString(n, "access_log", p, &s->access_log);
  r.GetDuration(n, "sse_heartbeat", p, &s->sse_heartbeat);
  std::string ff;
  if (r.GetString(n, "forwarded_for", p, &ff)) {
    if (ff == "replace")
      s->forwarded_for = ForwardedFor::kReplace;
    else if (ff == "append")
      s->forwarded_for = ForwardedFor::kAppend;
    else if (ff == "none")
      s->forwarded_for = ForwardedFor::kNone;
    else
      r.Error(R::PosOf(n["forwarded_for"], pos), "server.forwarded_for",
              "must be replace, append or none");
  }
  if (n["retry_budget"].IsDefined() && !n["retry_budget"].IsNull()) {
    std::string rp = "server.retry_budget";
    if (r.ExpectMap(n["retry_budget"], rp, pos, {"ratio", "min"})) {
      r.GetDouble(n["retry_budget"], "ratio", rp, &s->retry_budget.ratio, 0, 1);
      if (r.GetInt(n["retry_budget"], "min", rp, &v, 0, 1'000'000))
        s->retry_budget.min = static_cast<int>(v);
    }
  }
  if (n["timeouts"].IsDefined() && !n["timeouts"].IsNull()) {
    std::string tp = "server.timeouts";
    const YAML::Node& t = n["timeouts"];
    if (r.ExpectMap(t, tp, pos, {"read", "write", "idle", "drain", "header", "body"})) {
      r.GetDuration(t, "read", tp, &s->timeouts.read);
      r.GetDuration(t, "write", tp, &s->timeouts.write);
      r.GetDuration(t, "idle", tp, &s->timeouts.idle);
      r.GetDuration(t, "drain", tp, &s->timeouts.drain);
      r.GetDuration(t, "header", tp, &s->timeouts.header);
      r.GetDuration(t, "body", tp, &s->timeouts.body);
      for (auto d : {s->timeouts.read, s->timeouts.write, s->timeouts.idle, s->timeouts.header,
                     s->timeouts.body}) {
        if (d.count() < 1000) {
          r.Error(R::PosOf(t, pos), tp, "read, write, idle, header and body must be at least 1s");
          break;
        }
      }
    }
  }
  if (s->max_streams >= s->max_connections) {
    r.Error(pos, "server.max_streams",
            fmt::format("must be lower than server.max_connections ({}) so that health checks "
                        "and short requests always find a worker",
                        s->max_connections));
  }
}

void ParseBackends(R& r, const YAML::Node& n, SourcePos parent, std::vector<BackendConfig>* out) {
  const std::string p = "backends";
  if (!r.ExpectSeq(n, p, parent)) return;
  if (n.size() == 0) r.Error(R::PosOf(n, parent), p, "list at least one backend");
  std::set<std::string> names;
  for (size_t i = 0; i < n.size(); ++i) {
    BackendConfig b;
    std::string bp = R::Index(p, i);
    ParseBackend(r, n[i], bp, R::PosOf(n, parent), &b);
    if (!b.name.empty() && !names.insert(b.name).second) {
      r.Error(R::PosOf(n[i]["name"], b.pos), R::Join(bp, "name"),
              fmt::format("duplicate backend name '{}'", b.name));
    }
    out->push_back(std::move(b));
  }
}

}  // namespace signalbox::config_internal

namespace signalbox {

std::string_view ApiFamilyName(ApiFamily a) {
  switch (a) {
    case ApiFamily::kChat:
      return "chat";
    case ApiFamily::kResponses:
      return "responses";
    case ApiFamily::kMessages:
      return "messages";
  }
  return "chat";
}

bool BackendConfig::Serves(ApiFamily a) const {
  return std::find(api.begin(), api.end(), a) != api.end();
}

}  // namespace signalbox
