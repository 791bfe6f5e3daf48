// Reloader: loads the config file, validates and compiles it off the request path, and
// publishes it — or keeps the serving config and reports every problem.
//
// Thread-safe: reloads are serialised (SIGHUP, POST /admin/reload and the file watcher
// may fire together); requests never wait on a reload.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/env_expand.h"
#include "runtime/config_store.h"
#include "upstream/backends.h"

namespace signalbox {

// Applies the reload policy for server settings to `next`, a config about to replace one
// that runs with `running`: restart-only keys keep their running values (one warning
// each, naming both values); an admin token that a reload would remove is an error (a
// reload must never open /admin/* silently). Returns the errors; appends the warnings.
// Pure.
std::vector<std::string> ApplyReloadPolicy(const ServerConfig& running, ServerConfig* next,
                                           std::vector<std::string>* warnings);

class Reloader {
 public:
  // `on_published` runs after a new snapshot is live (e.g. to pre-create metric series);
  // `on_result` after every attempt (ok or not).
  Reloader(std::string path, ConfigStore& store, BackendRegistry& registry,
           std::function<void(const Snapshot&)> on_published,
           std::function<void(const ReloadResult&)> on_result, EnvLookup env = ProcessEnv())
      : path_(std::move(path)),
        store_(store),
        registry_(registry),
        on_published_(std::move(on_published)),
        on_result_(std::move(on_result)),
        env_(std::move(env)) {}

  // The first load at start-up: errors are returned, nothing is published on failure.
  ReloadResult LoadInitial();
  // A reload: on failure the serving config stays.
  ReloadResult Reload(const std::string& trigger);

  const std::string& path() const { return path_; }

  // The server settings the process actually runs with (after --listen): the keys a
  // reload cannot change (listen, limits, timeouts the listener was built with, the
  // access-log file) are kept at these values in every later snapshot, with a warning, so
  // /admin/config shows what is in effect. Call once the server is bound.
  void SetRunning(const ServerConfig& running);

 private:
  ReloadResult Load(const std::string& trigger, bool initial);

  const std::string path_;
  ConfigStore& store_;
  BackendRegistry& registry_;
  std::function<void(const Snapshot&)> on_published_;
  std::function<void(const ReloadResult&)> on_result_;
  EnvLookup env_;
  std::mutex mu_;
  std::optional<ServerConfig> running_;  // guarded by mu_
  uint64_t next_version_ = 1;
};

}  // namespace signalbox
