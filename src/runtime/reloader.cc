#include "runtime/reloader.h"

#include <fmt/format.h>

#include "common/log.h"
#include "config/units.h"
#include "runtime/config_load.h"

namespace signalbox {

namespace {

template <typename T>
void KeepRunning(const char* key, const T& running, T* next, std::string (*show)(const T&),
                 std::vector<std::string>* warnings) {
  if (*next == running) return;
  warnings->push_back(
      fmt::format("server.{} changed from {} to {}: it takes effect only after a restart; "
                  "the gateway keeps {}",
                  key, show(running), show(*next), show(running)));
  *next = running;
}

std::string ShowString(const std::string& s) { return fmt::format("'{}'", s); }
std::string ShowU64(const uint64_t& v) { return std::to_string(v); }
std::string ShowInt(const int& v) { return std::to_string(v); }
std::string ShowDuration(const Duration& d) { return FormatDuration(d); }

}  // namespace

std::vector<std::string> ApplyReloadPolicy(const ServerConfig& running, ServerConfig* next,
                                           std::vector<std::string>* warnings) {
  std::vector<std::string> errors;
  if (!running.admin_token.empty() && next->admin_token.empty()) {
    errors.push_back(
        "server.admin_token: a reload cannot remove the admin token (that would open /admin/* to "
        "anyone who can reach the port); set a token, or restart the gateway to run without one");
  }
  // Keys the listener and the access log were built with at start-up.
  KeepRunning("listen", running.listen, &next->listen, ShowString, warnings);
  KeepRunning("access_log", running.access_log, &next->access_log, ShowString, warnings);
  KeepRunning("max_body_bytes", running.max_body_bytes, &next->max_body_bytes, ShowU64, warnings);
  KeepRunning("max_header_bytes", running.max_header_bytes, &next->max_header_bytes, ShowU64,
              warnings);
  KeepRunning("max_headers", running.max_headers, &next->max_headers, ShowInt, warnings);
  KeepRunning("max_connections", running.max_connections, &next->max_connections, ShowInt,
              warnings);
  KeepRunning("response_affinity_entries", running.response_affinity_entries,
              &next->response_affinity_entries, ShowInt, warnings);
  KeepRunning("timeouts.read", running.timeouts.read, &next->timeouts.read, ShowDuration, warnings);
  KeepRunning("timeouts.write", running.timeouts.write, &next->timeouts.write, ShowDuration,
              warnings);
  KeepRunning("timeouts.idle", running.timeouts.idle, &next->timeouts.idle, ShowDuration, warnings);
  KeepRunning("timeouts.header", running.timeouts.header, &next->timeouts.header, ShowDuration,
              warnings);
  KeepRunning("timeouts.body", running.timeouts.body, &next->timeouts.body, ShowDuration, warnings);
  KeepRunning("min_body_rate", running.min_body_rate, &next->min_body_rate, ShowU64, warnings);
  KeepRunning("lingering_close.time", running.lingering_close.time, &next->lingering_close.time,
              ShowDuration, warnings);
  KeepRunning("lingering_close.idle", running.lingering_close.idle, &next->lingering_close.idle,
              ShowDuration, warnings);
  KeepRunning("lingering_close.max_bytes", running.lingering_close.max_bytes,
              &next->lingering_close.max_bytes, ShowU64, warnings);
  return errors;
}

void Reloader::SetRunning(const ServerConfig& running) {
  std::lock_guard<std::mutex> lk(mu_);
  running_ = running;
}

ReloadResult Reloader::LoadInitial() { return Load("startup", true); }
ReloadResult Reloader::Reload(const std::string& trigger) { return Load(trigger, false); }

ReloadResult Reloader::Load(const std::string& trigger, bool initial) {
  std::lock_guard<std::mutex> lk(mu_);
  ReloadResult r;
  r.trigger = trigger;
  r.at = std::chrono::system_clock::now();
  auto current = store_.Current();
  r.version = current ? current->version : 0;
  LoadResult lr = LoadCheckedConfigFile(path_, env_);
  r.warnings = lr.warnings;
  if (lr.config && running_ && !initial) {
    std::vector<std::string> errors = ApplyReloadPolicy(*running_, &lr.config->server, &r.warnings);
    if (!errors.empty()) {
      lr.errors = std::move(errors);
      lr.config.reset();
    }
  }
  if (!lr.config) {
    r.ok = false;
    r.errors = lr.errors;
    Log(initial ? LogLevel::kError : LogLevel::kWarn,
        initial ? "config rejected" : "config reload rejected; the previous config keeps serving")
        .Field("path", path_)
        .Field("trigger", trigger)
        .Field("errors", static_cast<int64_t>(r.errors.size()));
    for (const auto& e : r.errors) Log(LogLevel::kWarn, "config problem").Field("message", e);
  } else if (current && current->config->content_hash == lr.config->content_hash) {
    r.unchanged = true;
    Log(LogLevel::kInfo, "config unchanged")
        .Field("trigger", trigger)
        .Field("version", static_cast<int64_t>(r.version));
  } else {
    auto snap = BuildSnapshot(std::move(*lr.config), registry_, next_version_++);
    r.version = snap->version;
    store_.Publish(snap);
    Log(LogLevel::kInfo, initial ? "config loaded" : "config reloaded")
        .Field("path", path_)
        .Field("trigger", trigger)
        .Field("version", static_cast<int64_t>(snap->version))
        .Field("sha256", snap->config->content_hash);
    for (const auto& w : r.warnings) Log(LogLevel::kWarn, "config warning").Field("message", w);
    if (on_published_) on_published_(*snap);
  }
  if (!initial || r.ok) store_.SetLastReload(r);
  if (on_result_) on_result_(r);
  return r;
}

}  // namespace signalbox
