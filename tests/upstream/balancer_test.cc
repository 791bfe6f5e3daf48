// The balancer without sockets: distributions over many picks with a seeded random
// source, least-in-flight preference, round-robin order, rendezvous affinity and the
// health rules (never an ejected deployment unless every one is: panic).
#include "upstream/balancer.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

namespace signalbox {
namespace {

std::vector<DeploymentOption> Options(const std::vector<uint32_t>& weights) {
  std::vector<DeploymentOption> out;
  for (size_t i = 0; i < weights.size(); ++i) {
    DeploymentOption o;
    o.weight = weights[i];
    o.id_hash = DeploymentIdHash("http://vllm-" + std::to_string(i) + ":8000/v1");
    out.push_back(o);
  }
  return out;
}

// How many of `picks` picks went to each option.
std::vector<int> Count(const std::vector<DeploymentOption>& opts, BalancePolicy policy, int picks,
                       uint64_t seed) {
  Mt64Rng rng(seed);
  std::vector<int> n(opts.size());
  for (int i = 0; i < picks; ++i) {
    BalancerPick p = PickDeployment(opts, policy, std::nullopt, static_cast<uint64_t>(i), rng);
    REQUIRE(p.index >= 0);
    ++n[p.index];
  }
  return n;
}

// A random source that replays a script (then repeats its last value).
class ScriptRng final : public BalancerRng {
 public:
  explicit ScriptRng(std::vector<uint64_t> v) : v_(std::move(v)) {}
  uint64_t Next() override { return v_[std::min(i_++, v_.size() - 1)]; }

 private:
  std::vector<uint64_t> v_;
  size_t i_ = 0;
};

// A random value that draws `k` of [0, n) (the middle of its bucket).
uint64_t Bucket(uint64_t k, uint64_t n) { return (UINT64_MAX / n) * k + (UINT64_MAX / n) / 2; }

}  // namespace

TEST_CASE("weights 1:1:2 give 25/25/50 percent over 2000 picks", "[balancer]") {
  auto opts = Options({1, 1, 2});
  for (BalancePolicy policy : {BalancePolicy::kWeightedRandom, BalancePolicy::kLeastInflight,
                               BalancePolicy::kRoundRobin}) {
    INFO("policy " << BalancePolicyName(policy));
    for (uint64_t seed : {1u, 2u, 3u}) {
      auto n = Count(opts, policy, 2000, seed);
      // Binomial sd at 2000 picks is about 1 percentage point: 4 points is 4 sd.
      CHECK(n[0] == Approx(500).margin(80));
      CHECK(n[1] == Approx(500).margin(80));
      CHECK(n[2] == Approx(1000).margin(80));
    }
  }
}

TEST_CASE("least_inflight with equal loads is exactly weight-proportional", "[balancer]") {
  // The first draw is weighted and wins a tie: P(pick) = weight share, even for skewed
  // weights (a 50/50 tie-break would give the heavy one less than its share).
  auto opts = Options({1, 9});
  auto n = Count(opts, BalancePolicy::kLeastInflight, 10000, 7);
  CHECK(n[1] == Approx(9000).margin(150));
}

TEST_CASE("least_inflight prefers the less loaded deployment", "[balancer]") {
  auto opts = Options({1, 1, 1});
  opts[0].inflight = 10;
  opts[1].inflight = 0;
  opts[2].inflight = 10;
  auto n = Count(opts, BalancePolicy::kLeastInflight, 3000, 11);
  // Deployment 1 wins every pair it is part of: drawn first (1/3) or second (2/3 * 1/2).
  CHECK(n[1] == Approx(2000).margin(120));

  SECTION("the load is read per unit of weight") {
    auto w = Options({1, 4});
    w[0].inflight = 2;  // 2 per weight
    w[1].inflight = 4;  // 1 per weight: less loaded despite the larger count
    ScriptRng rng({Bucket(0, 5), Bucket(3, 4)});  // first draw 0, second draw 1
    CHECK(PickDeployment(w, BalancePolicy::kLeastInflight, std::nullopt, 0, rng).index == 1);
  }
  SECTION("a slow deployment is never compared with itself") {
    auto w = Options({1, 1, 1});
    w[2].inflight = 5;
    Mt64Rng r(2);
    for (int i = 0; i < 500; ++i)
      CHECK(PickDeployment(w, BalancePolicy::kLeastInflight, std::nullopt, 0, r).index != 2);
  }
  SECTION("a tie goes to the first draw") {
    auto w = Options({1, 1});
    ScriptRng a({Bucket(1, 2), Bucket(0, 2)});
    CHECK(PickDeployment(w, BalancePolicy::kLeastInflight, std::nullopt, 0, a).index == 1);
    ScriptRng b({Bucket(0, 2), Bucket(1, 2)});
    CHECK(PickDeployment(w, BalancePolicy::kLeastInflight, std::nullopt, 0, b).index == 0);
  }
}

TEST_CASE("round_robin goes in list order, each deployment taking its weight in turns",
          "[balancer]") {
  Mt64Rng rng(1);
  auto equal = Options({1, 1, 1});
  std::vector<int> seq;
  for (uint64_t t = 0; t < 6; ++t)
    seq.push_back(PickDeployment(equal, BalancePolicy::kRoundRobin, std::nullopt, t, rng).index);
  CHECK(seq == std::vector<int>{0, 1, 2, 0, 1, 2});

  auto weighted = Options({1, 1, 2});
  seq.clear();
  for (uint64_t t = 0; t < 8; ++t)
    seq.push_back(PickDeployment(weighted, BalancePolicy::kRoundRobin, std::nullopt, t, rng).index);
  CHECK(seq == std::vector<int>{0, 1, 2, 2, 0, 1, 2, 2});

  // An ejected deployment drops out of the rotation.
  equal[1].healthy = false;
  seq.clear();
  for (uint64_t t = 0; t < 4; ++t)
    seq.push_back(PickDeployment(equal, BalancePolicy::kRoundRobin, std::nullopt, t, rng).index);
  CHECK(seq == std::vector<int>{0, 2, 0, 2});
}

TEST_CASE("an unhealthy deployment is never picked unless every usable one is (panic)",
          "[balancer]") {
  for (BalancePolicy policy : {BalancePolicy::kWeightedRandom, BalancePolicy::kLeastInflight,
                               BalancePolicy::kRoundRobin}) {
    INFO("policy " << BalancePolicyName(policy));
    auto opts = Options({1, 5, 1});
    opts[1].healthy = false;  // circuit open, and the heaviest
    Mt64Rng rng(5);
    for (int i = 0; i < 500; ++i) {
      BalancerPick p = PickDeployment(opts, policy, std::nullopt, static_cast<uint64_t>(i), rng);
      CHECK(p.index != 1);
      CHECK_FALSE(p.panic);
    }
    // With an affinity key that would choose it, too.
    for (int k = 0; k < 200; ++k) {
      BalancerPick p = PickDeployment(opts, policy, AffinityHash("s" + std::to_string(k)), 0, rng);
      CHECK(p.index != 1);
    }
    // Every one ejected: panic, one of them is picked anyway.
    for (auto& o : opts) o.healthy = false;
    BalancerPick p = PickDeployment(opts, policy, std::nullopt, 0, rng);
    CHECK(p.index >= 0);
    CHECK(p.panic);
  }
}

TEST_CASE("a deployment that is not usable is never picked, even in panic", "[balancer]") {
  auto opts = Options({1, 1, 1});
  opts[0].usable = false;  // tried already, or rate limited, or at max_concurrency
  opts[1].healthy = false;
  opts[2].usable = false;
  Mt64Rng rng(3);
  for (int i = 0; i < 100; ++i) {
    BalancerPick p =
        PickDeployment(opts, BalancePolicy::kLeastInflight, std::nullopt, uint64_t(i), rng);
    CHECK(p.index == 1);
    CHECK(p.panic);
  }
  opts[1].usable = false;
  CHECK(PickDeployment(opts, BalancePolicy::kLeastInflight, std::nullopt, 0, rng).index == -1);
}

TEST_CASE("rendezvous affinity keeps a key on its deployment and moves few on a change",
          "[balancer]") {
  Mt64Rng rng(9);
  auto three = Options({1, 1, 1});
  constexpr int kKeys = 3000;
  std::vector<int> before(kKeys);
  std::map<int, int> share;
  for (int k = 0; k < kKeys; ++k) {
    uint64_t h = AffinityHash("session-" + std::to_string(k));
    BalancerPick p = PickDeployment(three, BalancePolicy::kLeastInflight, h, 0, rng);
    CHECK(p.affinity);
    before[k] = p.index;
    ++share[p.index];
    // The same key again, whatever the load: the same deployment.
    three[0].inflight = k % 7;
    CHECK(PickDeployment(three, BalancePolicy::kLeastInflight, h, 0, rng).index == p.index);
  }
  for (int i = 0; i < 3; ++i) CHECK(share[i] == Approx(kKeys / 3).margin(150));

  SECTION("adding a fourth deployment moves about a quarter of the keys, all to it") {
    auto four = Options({1, 1, 1, 1});
    int moved = 0;
    for (int k = 0; k < kKeys; ++k) {
      uint64_t h = AffinityHash("session-" + std::to_string(k));
      int now = PickDeployment(four, BalancePolicy::kRoundRobin, h, 0, rng).index;
      if (now != before[k]) {
        ++moved;
        CHECK(now == 3);
      }
    }
    CHECK(moved == Approx(kKeys / 4).margin(150));
  }
  SECTION("an ejected deployment hands over only its own keys, and gets them back") {
    three[1].healthy = false;
    int moved = 0;
    for (int k = 0; k < kKeys; ++k) {
      uint64_t h = AffinityHash("session-" + std::to_string(k));
      int now = PickDeployment(three, BalancePolicy::kLeastInflight, h, 0, rng).index;
      CHECK(now != 1);
      if (before[k] != 1) CHECK(now == before[k]);
      moved += now != before[k];
    }
    CHECK(moved == share[1]);
    three[1].healthy = true;
    for (int k = 0; k < kKeys; ++k) {
      uint64_t h = AffinityHash("session-" + std::to_string(k));
      CHECK(PickDeployment(three, BalancePolicy::kLeastInflight, h, 0, rng).index == before[k]);
    }
  }
  SECTION("weights shape the affinity shares too") {
    auto weighted = Options({1, 1, 2});
    std::vector<int> n(3);
    for (int k = 0; k < kKeys; ++k)
      ++n[PickDeployment(weighted, BalancePolicy::kWeightedRandom,
                         AffinityHash("session-" + std::to_string(k)), 0, rng)
              .index];
    CHECK(n[2] == Approx(kKeys / 2).margin(150));
  }
}

TEST_CASE("the hashes are stable across processes", "[balancer]") {
  // Replicas must agree on a session's deployment: the values are part of the contract.
  CHECK(DeploymentIdHash("") == DeploymentIdHash(""));
  CHECK(DeploymentIdHash("http://a/v1") != DeploymentIdHash("http://b/v1"));
  CHECK(AffinityHash("x") != DeploymentIdHash("x"));
  // FNV-1a of "" (its offset basis) through the Murmur3 finaliser.
  CHECK(DeploymentIdHash("") == 0xefd01f60ba992926ULL);
}

}  // namespace signalbox
