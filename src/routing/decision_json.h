// The decision JSON of `POST /v1/route` and `signalbox explain` (SPEC: "The decision
// JSON"). One function, so the HTTP dry run and the CLI print the same thing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "routing/router.h"

namespace signalbox::routing {

struct BudgetInfo {
  std::string key;
  std::optional<double> day_remaining_usd;
  std::optional<double> month_remaining_usd;
};

// `budget` is set when keys are configured. `pretty` indents for humans.
std::string DecisionJson(const Decision& d, std::string_view requested_model,
                         const std::optional<BudgetInfo>& budget, bool pretty = false);

}  // namespace signalbox::routing
