// Cost of recording metrics on the request path, and of a scrape.
//
//   build-x/bench/metrics_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "metrics/access_log.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"

namespace signalbox::metrics {
namespace {

// One registry for all benchmarks, so multi-threaded runs share their series.
Registry& SharedRegistry() {
  static Registry* r = new Registry();
  return *r;
}

GatewayMetrics& Shared() {
  static GatewayMetrics* m = new GatewayMetrics(GatewayMetrics::Register(SharedRegistry()).value());
  return *m;
}

const std::vector<std::string> kBackends = {"small", "medium", "large", "fallback"};
const std::vector<std::string> kTiers = {"simple", "medium", "complex"};
const std::vector<std::string> kRules = {"default", "complex", "tools"};
const std::vector<std::string> kStatuses = {"200", "429", "502", "504"};

// The series a busy gateway might have: 144 request series plus the per-backend and
// per-key ones, about 200 in all.
void Populate(GatewayMetrics& m) {
  m.Precreate(kBackends, {"anonymous", "team-a", "team-b"});
  for (const auto& b : kBackends) {
    for (const auto& t : kTiers) {
      for (const auto& r : kRules) {
        for (const auto& s : kStatuses) m.requests->WithLabels({b, t, r, s}).Inc();
      }
    }
    for (const auto& to : kBackends) {
      if (to != b) m.fallbacks->WithLabels({b, to, "timeout"}).Inc();
    }
    m.request_duration->WithLabels({b}).Observe(0.7);
  }
}

void BM_CounterIncCached(benchmark::State& state) {
  Counter& c = Shared().requests->WithLabels({"small", "simple", "default", "200"});
  for (auto _ : state) c.Inc();
}
BENCHMARK(BM_CounterIncCached)->Threads(1)->Threads(2);

void BM_CounterAddCached(benchmark::State& state) {
  Counter& c = Shared().cost_usd->WithLabels({"small", "team-a"});
  for (auto _ : state) c.Add(3.91e-5);
}
BENCHMARK(BM_CounterAddCached);

void BM_HistogramObserveCached(benchmark::State& state) {
  Histogram& h = Shared().request_duration->WithLabels({"small"});
  double v = 0.001;
  for (auto _ : state) {
    h.Observe(v);
    v = v < 500 ? v * 1.7 : 0.001;  // walk across the buckets
  }
}
BENCHMARK(BM_HistogramObserveCached)->Threads(1)->Threads(2);

void BM_LookupAndInc(benchmark::State& state) {
  GatewayMetrics& m = Shared();
  Populate(m);
  size_t i = 0;
  for (auto _ : state) {
    const std::string& b = kBackends[i % kBackends.size()];
    const std::string& t = kTiers[i % kTiers.size()];
    m.requests->WithLabels({b, t, "default", "200"}).Inc();
    ++i;
  }
  if (state.thread_index() == 0) state.counters["series"] = static_cast<double>(m.requests->size());
}
BENCHMARK(BM_LookupAndInc)->Threads(1)->Threads(2);

void BM_Scrape(benchmark::State& state) {
  GatewayMetrics& m = Shared();
  Populate(m);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = SharedRegistry().Scrape();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  size_t series = m.requests->size() + m.request_duration->size() + m.time_to_first_token->size() +
                  m.upstream_tokens->size() + m.cost_usd->size() + m.fallbacks->size() +
                  m.budget_rejections->size() + m.inflight_requests->size() +
                  m.config_reloads->size() + m.classifier_seconds->size();
  state.counters["series"] = static_cast<double>(series);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape);

void BM_FormatAccessRecord(benchmark::State& state) {
  AccessRecord r;
  r.ts = std::chrono::system_clock::now();
  r.request_id = "0f8e2c3a-9d41-4d7e-b1f0-6a5e2b7c9d10";
  r.key = "team-a";
  r.model = "auto";
  r.backend = "small";
  r.rule = "default";
  r.tier = "simple";
  r.score = 0.2345;
  r.status = 200;
  r.duration_ms = 812.5;
  r.input_tokens = 31;
  r.output_tokens = 120;
  r.cost_usd = 3.91e-5;
  r.attempts = 1;
  for (auto _ : state) benchmark::DoNotOptimize(FormatAccessRecord(r));
}
BENCHMARK(BM_FormatAccessRecord);

}  // namespace
}  // namespace signalbox::metrics

BENCHMARK_MAIN();
