#include "runtime/reloader.h"

#include "common/log.h"
#include "config/loader.h"

namespace signalbox {

ReloadResult Reloader::LoadInitial() { return Load("startup", true); }
ReloadResult Reloader::Reload(const std::string& trigger) { return Load(trigger, false); }

ReloadResult Reloader::Load(const std::string& trigger, bool initial) {
  std::lock_guard<std::mutex> lk(mu_);
  ReloadResult r;
  r.trigger = trigger;
  r.at = std::chrono::system_clock::now();
  auto current = store_.Current();
  r.version = current ? current->version : 0;
  LoadResult lr = LoadConfigFile(path_, env_);
  r.warnings = lr.warnings;
  if (!lr.config) {
    r.ok = false;
    r.errors = lr.errors;
    Log(initial ? LogLevel::kError : LogLevel::kWarn,
        initial ? "config rejected" : "config reload rejected; the previous config keeps serving")
        .Field("path", path_).Field("trigger", trigger).Field("errors", static_cast<int64_t>(r.errors.size()));
    for (const auto& e : r.errors) Log(LogLevel::kWarn, "config problem").Field("message", e);
  } else if (current && current->config->content_hash == lr.config->content_hash) {
    r.unchanged = true;
    Log(LogLevel::kInfo, "config unchanged").Field("trigger", trigger).Field("version", static_cast<int64_t>(r.version));
  } else {
    auto snap = BuildSnapshot(std::move(*lr.config), registry_, next_version_++);
    r.version = snap->version;
    store_.Publish(snap);
    Log(LogLevel::kInfo, initial ? "config loaded" : "config reloaded")
        .Field("path", path_).Field("trigger", trigger).Field("version", static_cast<int64_t>(snap->version))
        .Field("sha256", snap->config->content_hash);
    for (const auto& w : r.warnings) Log(LogLevel::kWarn, "config warning").Field("message", w);
    if (on_published_) on_published_(*snap);
  }
  if (!initial || r.ok) store_.SetLastReload(r);
  if (on_result_) on_result_(r);
  return r;
}

}  // namespace signalbox
