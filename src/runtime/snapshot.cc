#include "runtime/snapshot.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

#include "upstream/balancer.h"

namespace signalbox {

const KeyEntry* Snapshot::FindKey(std::string_view token) const {
  std::array<uint8_t, 32> h{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), h.data());
  const KeyEntry* found = nullptr;
  for (const auto& k : keys) {
    // No early exit: the time taken does not tell which key (if any) matched.
    bool eq = CRYPTO_memcmp(h.data(), k.sha256.data(), h.size()) == 0;
    if (eq) found = &k;
  }
  return found;
}

bool KeyEntry::Allows(std::string_view model) const {
  if (!models) return true;
  return std::find(models->begin(), models->end(), model) != models->end();
}

const KeyEntry* Snapshot::KeyById(std::string_view id) const {
  for (const auto& k : keys) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

bool SnapshotBackend::Unavailable() const {
  for (const auto& d : deployments) {
    if (!d.state->circuit.Unavailable()) return false;
  }
  return true;
}

int SnapshotBackend::DeploymentIndex(std::string_view name) const {
  for (size_t i = 0; i < deployments.size(); ++i) {
    if (deployments[i].name() == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<routing::DeploymentView> LiveDeployments(const SnapshotBackend& b) {
  std::vector<routing::DeploymentView> out;
  for (const auto& d : b.deployments) {
    const CircuitBreaker& c = d.state->circuit;
    int inflight = d.state->inflight.load(std::memory_order_relaxed);
    out.push_back({d.name(), d.dep->weight, !c.Unavailable() && inflight < b.cfg->max_concurrency,
                   std::string(CircuitStateName(c.state())), inflight});
  }
  return out;
}

int Snapshot::BackendIndex(std::string_view name) const {
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].cfg->name == name) return static_cast<int>(i);
  }
  return -1;
}

std::shared_ptr<const Snapshot> BuildSnapshot(Config cfg, BackendRegistry& registry,
                                              uint64_t version) {
  auto s = std::make_shared<Snapshot>();
  s->version = version;
  s->loaded_at = std::chrono::system_clock::now();
  s->config = std::make_shared<const Config>(std::move(cfg));
  s->router = routing::Router::Build(*s->config);
  for (const auto& b : s->config->backends) {
    SnapshotBackend sb{&b, registry.State(b), {}};
    for (const auto& d : b.deployments) {
      SnapshotDeployment sd;
      sd.dep = &d;
      sd.cfg = EffectiveConfig(b, d);
      sd.id_hash = DeploymentIdHash(d.key);
      sd.state = registry.Deployment(b, d);
      sd.pool = registry.Pool(sd.cfg);
      sb.deployments.push_back(std::move(sd));
    }
    s->backends.push_back(std::move(sb));
  }
  for (const auto& k : s->config->budgets.keys) {
    s->keys.push_back({k.sha256, k.id, k.daily_usd, k.monthly_usd,
                       budget::RateLimits{k.rpm, k.tpm, k.max_parallel}, k.models});
  }
  return s;
}

}  // namespace signalbox
