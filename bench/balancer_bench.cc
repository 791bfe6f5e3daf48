// Balancer cost per pick with 2, 8 and 64 deployments, for each policy and with an
// affinity key (rendezvous hashing scores every deployment: linear in their number).
// The options are rebuilt by ProxyCall on every attempt; this measures the pick alone.
//
//   build-*/bench/balancer_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "upstream/balancer.h"

namespace signalbox {
namespace {

std::vector<DeploymentOption> Options(int n) {
  std::vector<DeploymentOption> out(n);
  for (int i = 0; i < n; ++i) {
    out[i].weight = 1 + i % 3;
    out[i].inflight = (i * 7) % 5;
    out[i].healthy = i % 11 != 10;  // a few ejected
    out[i].id_hash = DeploymentIdHash("http://vllm-" + std::to_string(i) + ":8000/v1");
  }
  return out;
}

void Pick(benchmark::State& state, BalancePolicy policy, bool affinity) {
  auto opts = Options(static_cast<int>(state.range(0)));
  Mt64Rng rng(42);
  uint64_t ticket = 0, key = AffinityHash("session-1234");
  for (auto _ : state) {
    auto p =
        PickDeployment(opts, policy, affinity ? std::optional(key++) : std::nullopt, ticket++, rng);
    benchmark::DoNotOptimize(p);
  }
}

void BM_LeastInflight(benchmark::State& s) { Pick(s, BalancePolicy::kLeastInflight, false); }
void BM_WeightedRandom(benchmark::State& s) { Pick(s, BalancePolicy::kWeightedRandom, false); }
void BM_RoundRobin(benchmark::State& s) { Pick(s, BalancePolicy::kRoundRobin, false); }
void BM_Affinity(benchmark::State& s) { Pick(s, BalancePolicy::kLeastInflight, true); }

BENCHMARK(BM_LeastInflight)->Arg(2)->Arg(8)->Arg(64);
BENCHMARK(BM_WeightedRandom)->Arg(2)->Arg(8)->Arg(64);
BENCHMARK(BM_RoundRobin)->Arg(2)->Arg(8)->Arg(64);
BENCHMARK(BM_Affinity)->Arg(2)->Arg(8)->Arg(64);

}  // namespace
}  // namespace signalbox

BENCHMARK_MAIN();
