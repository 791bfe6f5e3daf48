// Balancer: which deployment of a backend takes the next attempt.
//
// Pure: PickDeployment() is a function of the options passed in (weights, in-flight
// counts, health), the policy, an optional affinity hash, a round-robin ticket and an
// injected random source; no clock, no locks, no I/O. ProxyCall builds the options from
// the live DeploymentState of the pinned snapshot; tests and benchmarks build them by hand.
//
// The rules, in order:
//  1. Only `usable` options are ever picked (not tried yet by this request, not rate
//     limited, below max_concurrency). Among them the `healthy` ones (circuit not open)
//     are preferred; when no usable option is healthy, every usable one is a candidate
//     ("panic", as Envoy does: better a deployment that may have recovered than none).
//  2. With an affinity hash (a session header, a previous response), the candidate with
//     the highest weighted rendezvous score wins: score = weight / -ln(u), u uniform in
//     (0,1) from hash(affinity, deployment id). The same key keeps its deployment while
//     that one stays a candidate; adding a deployment moves only the keys it now wins
//     (about its share of the weight); a deployment that fails hands its keys to their
//     second choice and gets them back when it recovers.
//  3. Otherwise the policy:
//     - least_inflight: weighted power of two choices. One candidate is drawn in
//       proportion to weight, a second one likewise among the others, and the one with
//       the lower inflight / weight wins; on a tie the first draw wins. So with equal
//       loads the pick is exactly weight-proportional (the first draw decides), and a
//       deployment that answers slowly (its in-flight count grows) loses share to the
//       others: drawing the second without replacement means a slow deployment is never
//       compared with itself, so it keeps no floor share.
//     - weighted_random: one draw in proportion to weight.
//     - round_robin: ticket modulo the candidates' total weight, laid out in list order
//       (weights 1:1:2 give A B C C A B C C ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>

#include "config/config.h"

namespace signalbox {

// Random source for the balancer (injected so tests are deterministic).
class BalancerRng {
 public:
  virtual ~BalancerRng() = default;
  virtual uint64_t Next() = 0;  // uniform over all 64-bit values
};

// A Mersenne Twister seeded once; one per thread (not thread-safe).
class Mt64Rng final : public BalancerRng {
 public:
  explicit Mt64Rng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() override { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

// This thread's random source, seeded from std::random_device.
BalancerRng& ThreadRng();

struct DeploymentOption {
  uint32_t weight = 1;   // >= 1
  int inflight = 0;      // attempts in flight now
  bool healthy = true;   // circuit not open (and no other request's probe out)
  bool usable = true;    // may be tried at all by this attempt
  uint64_t id_hash = 0;  // DeploymentIdHash() of its stable id (for rendezvous hashing)
};

struct BalancerPick {
  int index = -1;         // -1: no usable option
  bool panic = false;     // no usable option was healthy
  bool affinity = false;  // chosen by the affinity hash
};

BalancerPick PickDeployment(std::span<const DeploymentOption> options, BalancePolicy policy,
                            std::optional<uint64_t> affinity_hash, uint64_t round_robin_ticket,
                            BalancerRng& rng);

// Stable 64-bit hashes (the same in every process and build, so replicas agree).
uint64_t DeploymentIdHash(std::string_view stable_id);
uint64_t AffinityHash(std::string_view key);

}  // namespace signalbox
