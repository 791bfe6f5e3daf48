// Ledger and SpendTracker throughput: settled attempt records per second with 1, 8 and 64
// concurrent callers (each settle is one spool write; the applier thread commits them to
// SQLite in batches, and its CPU is counted: MeasureProcessCPUTime), the applier's cost
// per record, the full reserve-settle-release cycle of a request, and the start-up
// rebuild of the windows from a large ledger. Files go to a
// fresh directory under $TMPDIR (default /tmp), removed afterwards.
//
//   build-*/bench/ledger_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "budget/ledger.h"
#include "budget/spend_tracker.h"
#include "common/clock.h"

namespace signalbox::budget {
namespace {

// One ledger and tracker shared by every thread of one benchmark run.
struct Fixture {
  std::string dir;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<SpendTracker> tracker;
};
Fixture* g_fixture = nullptr;
std::atomic<int64_t> g_run{0};

std::string MakeTempDir() {
  const char* tmp = getenv("TMPDIR");
  std::string base =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/signalbox-ledger-bench-XXXXXX";
  if (mkdtemp(base.data()) == nullptr) abort();
  return base;
}

void SetUp(const benchmark::State&) {
  g_fixture = new Fixture;
  g_fixture->dir = MakeTempDir();
  auto ledger = Ledger::Open(g_fixture->dir + "/ledger.db");
  if (!ledger.ok()) abort();
  g_fixture->ledger = std::move(ledger).value();
  auto tracker = SpendTracker::Create(g_fixture->ledger.get(), Clock::Real());
  if (!tracker.ok()) abort();
  g_fixture->tracker = std::move(tracker).value();
  g_run.fetch_add(1);
}

void TearDown(const benchmark::State&) {
  const std::string dir = g_fixture->dir;
  delete g_fixture;  // the ledger commits what is left before the files go
  g_fixture = nullptr;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

AttemptRecord MakeRecord(const benchmark::State& state, int64_t seq) {
  AttemptRecord r;
  r.request_id = fmt::format("run{}-t{}-{}", g_run.load(), state.thread_index(), seq);
  r.attempt = 1;
  r.key_id = fmt::format("team-{}", seq % 8);
  r.backend = seq % 3 == 0 ? "large" : "small";
  r.input_tokens = 1200;
  r.output_tokens = 300;
  r.cost_usd = 0.000213;
  r.outcome = "ok";
  return r;
}

void ReportCounters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() != 0) return;
  LedgerStats stats = g_fixture->ledger->Stats();
  state.counters["records_per_txn"] =
      stats.transactions == 0
          ? 0.0
          : static_cast<double>(stats.records_inserted) / static_cast<double>(stats.transactions);
}

// One durable settle of one attempt record per iteration.
void BM_Settle(benchmark::State& state) {
  int64_t seq = 0;
  for (auto _ : state) {
    std::vector<AttemptRecord> records = {MakeRecord(state, seq++)};
    if (!g_fixture->tracker->Settle(records).ok()) state.SkipWithError("settle failed");
  }
  ReportCounters(state);
}
BENCHMARK(BM_Settle)
    ->Setup(SetUp)
    ->Teardown(TearDown)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Threads(1)
    ->Threads(8)
    ->Threads(64);

// A request's whole budget path: reserve, settle its record, release.
void BM_ReserveSettleRelease(benchmark::State& state) {
  const BudgetLimits limits{1e6, 1e7};
  int64_t seq = 0;
  for (auto _ : state) {
    AttemptRecord record = MakeRecord(state, seq++);
    auto reservation = g_fixture->tracker->Reserve(record.key_id, limits, 0.01);
    if (!reservation.ok()) state.SkipWithError("reserve failed");
    std::vector<AttemptRecord> records = {std::move(record)};
    if (!g_fixture->tracker->Settle(records).ok()) state.SkipWithError("settle failed");
  }
  ReportCounters(state);
}
BENCHMARK(BM_ReserveSettleRelease)
    ->Setup(SetUp)
    ->Teardown(TearDown)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Threads(1)
    ->Threads(64);

// The applier's part: commit state.range(0) spooled records to SQLite in one transaction
// (what one apply step does). Time per iteration / range = cost per record.
void BM_ApplyBatch(benchmark::State& state) {
  const std::string dir = MakeTempDir();
  LedgerOptions options;
  options.apply_interval = std::chrono::hours(1);  // only Flush() applies
  options.apply_batch = 1u << 30;
  auto ledger = std::move(Ledger::Open(dir + "/ledger.db", options)).value();
  int64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<AttemptRecord> batch;
    for (int64_t i = 0; i < state.range(0); ++i) batch.push_back(MakeRecord(state, seq++));
    if (!ledger->Append(batch).ok()) state.SkipWithError("append failed");
    state.ResumeTiming();
    if (!ledger->Flush().ok()) state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  ledger.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_ApplyBatch)->Arg(256)->Arg(2048)->Unit(benchmark::kMicrosecond);

// Start-up: SpendTracker::Create on a ledger holding state.range(0) records of this month.
void BM_RebuildFromLedger(benchmark::State& state) {
  const std::string dir = MakeTempDir();
  {
    auto ledger = std::move(Ledger::Open(dir + "/ledger.db")).value();
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               Clock::Real().WallNow().time_since_epoch())
                               .count();
    std::vector<AttemptRecord> batch;
    for (int64_t i = 0; i < state.range(0); ++i) {
      AttemptRecord r = MakeRecord(state, i);
      r.ts_ms = now_ms - i * 10;  // spread over the last few hours
      batch.push_back(std::move(r));
      if (batch.size() == 10'000 || i + 1 == state.range(0)) {
        if (!ledger->Append(batch).ok()) abort();
        batch.clear();
      }
    }
  }
  auto ledger = std::move(Ledger::Open(dir + "/ledger.db")).value();
  for (auto _ : state) {
    auto tracker = SpendTracker::Create(ledger.get(), Clock::Real());
    if (!tracker.ok()) state.SkipWithError("rebuild failed");
    benchmark::DoNotOptimize(tracker);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  ledger.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_RebuildFromLedger)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace signalbox::budget

BENCHMARK_MAIN();
