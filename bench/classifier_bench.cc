// Classifier cost: one prompt of 256 B .. 64 KB (linear in size, a few allocations per
// call whatever the size), a coding-agent conversation, a batch of short mixed prompts
// (prompts per second, the `score` verb's bound), and the token estimator alone.
//
//   build-*/bench/classifier_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "classify/classifier.h"
#include "config/config.h"

// Counts heap allocations so the benchmarks can report allocations per call. The
// standard replacement pair (malloc/free); GCC 12 flags it as mismatched when it inlines
// both into one function, a known false positive.
namespace {
std::atomic<int64_t> g_allocs{0};
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace signalbox::classify {
namespace {

// Prose, code, math and a list, as real prompts mix them.
const char* const kFragments[] = {
    "I have a React component that re-renders forever when I call setState inside a hook. ",
    "Here is the code:\n```js\nfunction Profile({ userId }) {\n  const [user, setUser] = "
    "useState(null);\n  useEffect(() => { fetchUser(userId).then(setUser); }, [userId]);\n}\n"
    "```\n",
    "Why does this happen, and what is the right way to fix it? ",
    "Our monthly revenue grew from 120k to 310k in 23 months; compute the growth rate r "
    "where 120 * (1 + r)^23 = 310, then estimate when we reach 1M. ",
    "Please answer in JSON with exactly three keys and no more than 80 words.\n",
    "1. Explain the trade-offs.\n2. Compare both options.\n3. Recommend one.\n",
    "Thanks a lot for the help earlier, the deployment to Kubernetes worked fine. ",
};

std::string MakeText(size_t size) {
  std::string text;
  for (size_t i = 0; text.size() < size; ++i) {
    text += kFragments[i % (sizeof(kFragments) / sizeof(kFragments[0]))];
  }
  text.resize(size);
  return text;
}

const Classifier& TheClassifier() {
  static const auto c = Classifier::Create(ClassifierConfig{});
  return *c;
}

void BM_Classify(benchmark::State& state) {
  const std::string text = MakeText(static_cast<size_t>(state.range(0)));
  ClassifyInput in;
  in.parts.push_back({Role::kUser, 0, text});
  in.num_messages = 1;
  const Classifier& c = TheClassifier();
  const int64_t allocs0 = g_allocs.load();
  for (auto _ : state) benchmark::DoNotOptimize(c.Classify(in).score);
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.counters["allocs_per_call"] =
      static_cast<double>(g_allocs.load() - allocs0) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Classify)->RangeMultiplier(4)->Range(256, 64 << 10);

void BM_EstimateTokens(benchmark::State& state) {
  const std::string text = MakeText(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(EstimateTokens(text));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EstimateTokens)->RangeMultiplier(4)->Range(256, 64 << 10);

// A coding agent's request: a 6 KB system prompt, reminders, 40 KB of tool output, a
// one-line ask.
void BM_ClassifyAgentConversation(benchmark::State& state) {
  const std::string system = MakeText(6 << 10);
  const std::string reminder = "<system-reminder>" + MakeText(2 << 10) + "</system-reminder>";
  const std::string tool = MakeText(40 << 10);
  const std::string ask = "The parser test fails after my change; find out why and fix it.";
  ClassifyInput in;
  in.parts = {{Role::kSystem, 0, system}, {Role::kUser, 1, reminder},
              {Role::kUser, 1, ask},      {Role::kAssistant, 2, "Running the tests."},
              {Role::kTool, 3, tool},     {Role::kAssistant, 4, "Reading parser.cc."},
              {Role::kTool, 5, tool}};
  in.num_messages = 6;
  in.num_tools = 12;
  const Classifier& c = TheClassifier();
  size_t bytes = 0;
  for (const auto& p : in.parts) bytes += p.text.size();
  for (auto _ : state) benchmark::DoNotOptimize(c.Classify(in).score);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ClassifyAgentConversation);

// The `score` verb's inner loop: many short prompts of mixed kinds.
void BM_ClassifyBatch(benchmark::State& state) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 1000; ++i) {
    const size_t size = 40 + static_cast<size_t>((i * 7919) % 1200);  // 40 B .. 1.2 KB
    std::string p = MakeText(size + (i % 7) * 13);
    prompts.push_back(p.substr((i % 7) * 13));
  }
  std::vector<ClassifyInput> inputs(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    inputs[i].parts.push_back({Role::kUser, 0, prompts[i]});
    inputs[i].num_messages = 1;
  }
  const Classifier& c = TheClassifier();
  for (auto _ : state) {
    for (const auto& in : inputs) benchmark::DoNotOptimize(c.Classify(in).score);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(inputs.size()));
}
BENCHMARK(BM_ClassifyBatch)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace signalbox::classify

BENCHMARK_MAIN();
