// Router: the compiled routing rules and the one decision function that live traffic,
// `POST /v1/route`, `explain`, `score`, `calibrate` and `replay` all call.
//
// Immutable after Build() and safe to share between threads. Decide() is pure: its
// answer depends only on the request facts, the router and the budget view passed in
// (no clock, no I/O, no globals), so offline tools and live traffic agree by
// construction. See routing/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "classify/classifier.h"
#include "config/config.h"

namespace signalbox::routing {

// What the rules and the budget check look at in one request.
struct RequestFacts {
  std::string_view model;   // as requested
  std::string_view key_id;  // "" when no keys are configured
  // Case-insensitive request header lookup (may be empty).
  std::function<std::optional<std::string_view>(std::string_view)> header;
  bool stream = false;
  bool has_tools = false;
  bool has_images = false;
  bool embeddings = false;  // routed by model name only, never classified
  int64_t max_tokens = -1;  // -1 = not set
  int n = 1;
  const classify::ClassifyInput* input = nullptr;  // chat/completions
  int64_t embedding_input_chars = 0;
  // Billed input beyond the text parts (ParsedRequest::extra_input_tokens) and the count
  // of image parts: both enter the admission estimate.
  int64_t extra_input_tokens = 0;
  int images = 0;
  ApiFamily api = ApiFamily::kChat;  // candidates must serve it (backends[].api)
  // Responses: the backend that produced previous_response_id (from the AffinityMap);
  // it goes first in the matched rule's route. Empty = none known.
  std::string_view affinity_backend;
};

// The caller's remaining budget, read before deciding (nullopt = unlimited).
struct BudgetView {
  std::optional<double> request_cap_usd;  // x-signalbox-max-cost-usd, else request_max_usd
  bool request_cap_from_header = false;
  std::optional<double> day_remaining_usd;
  std::optional<double> month_remaining_usd;
};

struct Candidate {
  std::string backend;
  int backend_index = -1;
  double estimated_cost_usd = 0;
  bool skipped = false;
  std::string reason;  // why skipped (empty when usable)
  // machine-readable: api, context_window, request_cap, daily_budget, monthly_budget
  std::string skip_code;

  // Skipped for money (request cap, daily or monthly budget), not for fit.
  bool budget_skip() const {
    return skipped && skip_code != "context_window" && skip_code != "api";
  }
};

struct RuleTrace {
  std::string rule;
  bool matched = false;
  std::string why_not;  // the first condition that failed
};

struct Decision {
  // kNoApi: no backend this request may use serves its API.
  enum class Kind { kRouted, kExplicit, kNotFound, kBudgetRejected, kNoFit, kNoApi };
  Kind kind = Kind::kNotFound;
  std::string rule;  // matched rule name, or "explicit"
  bool classified = false;
  classify::Classification classification;  // when classified
  int64_t input_tokens = 0;                 // estimated
  int64_t output_tokens = 0;                // estimated (max_tokens or default) x n
  std::vector<Candidate> candidates;        // in route order
  std::vector<RuleTrace> trace;             // rules evaluated, in order
  std::string message;      // for kNotFound / kBudgetRejected / kNoFit: what to tell the client
  std::string budget_code;  // kBudgetRejected: which budget (request_cap, daily_budget, ...)
  std::string affinity;     // the backend put first for previous_response_id, if any
  ApiFamily api = ApiFamily::kChat;  // the request's API family

  // The first usable candidate, or nullptr.
  const Candidate* target() const;
};

class Router {
 public:
  static std::shared_ptr<const Router> Build(const Config& cfg);

  Decision Decide(const RequestFacts& facts, const BudgetView& budget) const;

  // Estimated prompt tokens of a request (the same estimator budgets use).
  int64_t EstimateInputTokens(const RequestFacts& facts) const;

  bool IsVirtualModel(std::string_view m) const {
    return virtual_models_.count(std::string(m)) > 0;
  }
  // Backend index for an explicit model name (backend name or its model), or -1.
  int ExplicitBackend(std::string_view m) const;
  const classify::Classifier& classifier() const { return *classifier_; }
  const std::vector<std::string>& virtual_models() const { return virtual_model_list_; }

 private:
  struct CompiledBackend {
    std::string name;
    std::string model;
    PriceConfig price;
    int64_t context_window = 0;
    std::vector<ApiFamily> api;
  };
  struct CompiledRule {
    RuleConfig cfg;
    std::vector<int> route;  // backend indexes
    std::vector<int> tier_indexes;
  };

  bool Matches(const CompiledRule& r, const RequestFacts& f, const Decision& d,
               std::string* why) const;
  // `route` with the previous response's backend first (f.affinity_backend), if known.
  std::vector<int> WithAffinity(const std::vector<int>& route, const RequestFacts& f,
                                Decision* d) const;
  void BuildCandidates(const std::vector<int>& route, const RequestFacts& f, const BudgetView& b,
                       Decision* d) const;

  std::vector<CompiledBackend> backends_;
  std::vector<CompiledRule> rules_;
  std::unordered_set<std::string> virtual_models_;
  std::vector<std::string> virtual_model_list_;
  std::unordered_map<std::string, int> explicit_;
  bool allow_explicit_ = true;
  std::shared_ptr<const classify::Classifier> classifier_;
  int64_t default_output_tokens_ = 512;
  OnExceed on_exceed_ = OnExceed::kDowngrade;
};

// Estimated USD of `in` input and `out` output tokens at `price`.
double EstimateCost(const PriceConfig& price, int64_t in, int64_t out);

// USD of reported usage: `in` input tokens of which `cached` were read from the prompt
// cache and `cache_write` written to it (each at its own price when configured, else at
// the input price), and `out` output tokens.
double UsageCost(const PriceConfig& price, int64_t in, int64_t cached, int64_t cache_write,
                 int64_t out);

}  // namespace signalbox::routing
