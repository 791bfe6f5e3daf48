// The decision JSON of `POST /v1/route` and `signalbox explain` (SPEC: "The decision
// JSON"). One function, so the HTTP dry run and the CLI print the same thing.
#pragma once

#include <functional>
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

// One deployment of a candidate backend as the decision JSON shows it.
struct DeploymentView {
  std::string name;
  int weight = 1;
  bool eligible = true;                // may take the request now (offline: always)
  std::optional<std::string> circuit;  // live only: closed, open, half_open
  std::optional<int> inflight;         // live only
};
// The deployments of backend `index` (Snapshot/Config order), for each candidate.
using DeploymentLookup = std::function<std::vector<DeploymentView>(int backend_index)>;

// The deployments as the config lists them, every one eligible (offline: `explain`).
DeploymentLookup ConfigDeployments(const Config& cfg);

// `budget` is set when keys are configured, `limits` when the request's key is known.
// `pretty` indents for humans. With `deployments`, each candidate lists its backend's
// deployments.
std::string DecisionJson(const Decision& d, std::string_view requested_model,
                         const std::optional<BudgetInfo>& budget, bool pretty = false,
                         const std::optional<LimitInfo>& limits = std::nullopt,
                         const DeploymentLookup& deployments = nullptr);

}  // namespace signalbox::routing
