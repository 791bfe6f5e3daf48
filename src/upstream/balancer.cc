#include "upstream/balancer.h"

#include <cmath>

namespace signalbox {
namespace {

// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-32).
uint64_t Below(BalancerRng& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng.Next()) * n) >> 64);
}

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The candidates of this pick: usable and healthy, or (panic) every usable one.
struct Candidates {
  std::span<const DeploymentOption> options;
  bool panic = false;
  bool Has(size_t i) const { return options[i].usable && (panic || options[i].healthy); }
};

constexpr size_t kNone = static_cast<size_t>(-1);

// The candidate drawn in proportion to weight, with `total` their summed weight, leaving
// out `except` (whose weight `total` then does not include).
size_t WeightedDraw(const Candidates& c, uint64_t total, BalancerRng& rng, size_t except = kNone) {
  uint64_t r = Below(rng, total);
  size_t last = 0;
  for (size_t i = 0; i < c.options.size(); ++i) {
    if (!c.Has(i) || i == except) continue;
    last = i;
    if (r < c.options[i].weight) return i;
    r -= c.options[i].weight;
  }
  return last;  // unreachable while total is the candidates' weight
}

size_t RoundRobin(const Candidates& c, uint64_t total, uint64_t ticket) {
  uint64_t r = ticket % total;
  size_t last = 0;
  for (size_t i = 0; i < c.options.size(); ++i) {
    if (!c.Has(i)) continue;
    last = i;
    if (r < c.options[i].weight) return i;
    r -= c.options[i].weight;
  }
  return last;
}

// Weighted rendezvous (highest random weight): the candidate maximising
// weight / -ln(u) with u in (0,1) drawn from hash(key, deployment).
size_t Rendezvous(const Candidates& c, uint64_t key) {
  size_t best = 0;
  double best_score = -1;
  for (size_t i = 0; i < c.options.size(); ++i) {
    if (!c.Has(i)) continue;
    uint64_t h = Mix(key ^ Mix(c.options[i].id_hash));
    double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;  // (0,1), never 0 or 1
    double score = c.options[i].weight / -std::log(u);
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  return best;
}

}  // namespace

BalancerRng& ThreadRng() {
  thread_local Mt64Rng rng(uint64_t{std::random_device{}()} << 32 ^ std::random_device{}());
  return rng;
}

BalancerPick PickDeployment(std::span<const DeploymentOption> options, BalancePolicy policy,
                            std::optional<uint64_t> affinity_hash, uint64_t round_robin_ticket,
                            BalancerRng& rng) {
  Candidates c{options};
  uint64_t total = 0;
  size_t count = 0;
  for (size_t i = 0; i < options.size(); ++i) {
    if (c.Has(i)) {
      total += options[i].weight;
      ++count;
    }
  }
  if (count == 0) {
    c.panic = true;
    for (size_t i = 0; i < options.size(); ++i) {
      if (c.Has(i)) {
        total += options[i].weight;
        ++count;
      }
    }
    if (count == 0) return {};
  }
  BalancerPick pick;
  pick.panic = c.panic;
  if (affinity_hash) {
    pick.index = static_cast<int>(Rendezvous(c, *affinity_hash));
    pick.affinity = true;
    return pick;
  }
  switch (policy) {
    case BalancePolicy::kRoundRobin:
      pick.index = static_cast<int>(RoundRobin(c, total, round_robin_ticket));
      break;
    case BalancePolicy::kWeightedRandom:
      pick.index = static_cast<int>(WeightedDraw(c, total, rng));
      break;
    case BalancePolicy::kLeastInflight: {
      size_t a = WeightedDraw(c, total, rng);
      if (count == 1) {
        pick.index = static_cast<int>(a);
        break;
      }
      size_t b = WeightedDraw(c, total - options[a].weight, rng, a);
      // inflight_b / weight_b < inflight_a / weight_a, without division.
      const DeploymentOption& oa = options[a];
      const DeploymentOption& ob = options[b];
      bool b_less = static_cast<int64_t>(ob.inflight) * oa.weight <
                    static_cast<int64_t>(oa.inflight) * ob.weight;
      pick.index = static_cast<int>(b_less ? b : a);
      break;
    }
  }
  return pick;
}

uint64_t DeploymentIdHash(std::string_view stable_id) { return Mix(Fnv1a(stable_id)); }

uint64_t AffinityHash(std::string_view key) { return Mix(Fnv1a(key) ^ 0x9e3779b97f4a7c15ULL); }

}  // namespace signalbox
