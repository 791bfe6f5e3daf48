// The decision JSON of `POST /v1/route` and `signalbox explain` (SPEC: "The decision
// JSON"). One function, so the HTTP dry run and the CLI print the same thing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "budget/rate_limiter.h"
#include "routing/router.h"

namespace signalbox::routing {

struct BudgetInfo {
  std::string key;
  std::optional<double> day_remaining_usd;
  std::optional<double> month_remaining_usd;
};

// The key's limits and how much of them is left (`limits` in the decision JSON).
struct LimitInfo {
  std::string key;
  budget::RateLimits limits;
  std::optional<budget::RateLimitState> state;  // nullopt: no live state (offline explain)
  std::optional<std::vector<std::string>> models;
  bool model_allowed = true;
};

// `budget` is set when keys are configured, `limits` when the request's key is known.
// `pretty` indents for humans.
std::string DecisionJson(const Decision& d, std::string_view requested_model,
                         const std::optional<BudgetInfo>& budget, bool pretty = false,
                         const std::optional<LimitInfo>& limits = std::nullopt);

}  // namespace signalbox::routing
