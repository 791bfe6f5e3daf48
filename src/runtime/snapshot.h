// Snapshot: one compiled, immutable config — what every request pins at admission and
// uses to the end, so a reload never changes a request half-way.
//
// Immutable once built; shared as shared_ptr<const Snapshot>. Long-lived state (circuit
// breakers, client pools, the ledger, metrics) is referenced, not owned.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "budget/rate_limiter.h"
#include "config/config.h"
#include "routing/decision_json.h"
#include "routing/router.h"
#include "upstream/backends.h"

namespace signalbox {

// One deployment of a backend: the config it is called with (the backend's, with the
// deployment's url, api_key and headers), its long-lived state and client pool.
struct SnapshotDeployment {
  const DeploymentConfig* dep = nullptr;  // points into Snapshot::config
  BackendConfig cfg;                      // EffectiveConfig(backend, deployment)
  uint64_t id_hash = 0;                   // DeploymentIdHash(dep->key), for affinity
  std::shared_ptr<DeploymentState> state;
  std::shared_ptr<ClientPool> pool;
  const std::string& name() const { return dep->name; }
};

struct SnapshotBackend {
  const BackendConfig* cfg = nullptr;  // points into Snapshot::config
  std::shared_ptr<BackendState> state;
  std::vector<SnapshotDeployment> deployments;  // same order as cfg->deployments, never empty

  // True when no deployment may take a request now (every circuit open, or rate limited):
  // for /readyz, signalbox_backend_up and the route-level panic decision.
  bool Unavailable() const;
  int DeploymentIndex(std::string_view name) const;
};

struct KeyEntry {
  std::array<uint8_t, 32> sha256{};
  std::string id;
  std::optional<double> daily_usd;
  std::optional<double> monthly_usd;
  budget::RateLimits rate;                         // rpm, tpm, max_parallel
  std::optional<std::vector<std::string>> models;  // allow-list; nullopt = any
  // Whether the key may request `model`.
  bool Allows(std::string_view model) const;
};

struct Snapshot {
  uint64_t version = 0;
  std::chrono::system_clock::time_point loaded_at;
  std::shared_ptr<const Config> config;
  std::shared_ptr<const routing::Router> router;
  std::vector<SnapshotBackend> backends;  // same order as config->backends
  std::vector<KeyEntry> keys;

  bool keys_configured() const { return !keys.empty(); }
  // The key whose SHA-256 matches `token`, or nullptr. Takes the same time whichever
  // key matches (or none): every configured hash is compared in constant time.
  const KeyEntry* FindKey(std::string_view token) const;
  const KeyEntry* KeyById(std::string_view id) const;
  int BackendIndex(std::string_view name) const;
};

// The live view of a backend's deployments for the decision JSON of POST /v1/route:
// eligible = its circuit admits requests, it is not rate limited and below max_concurrency.
std::vector<routing::DeploymentView> LiveDeployments(const SnapshotBackend& b);

// Compiles a validated Config. Backend state and pools come from the long-lived registry.
std::shared_ptr<const Snapshot> BuildSnapshot(Config cfg, BackendRegistry& registry,
                                              uint64_t version);

}  // namespace signalbox
