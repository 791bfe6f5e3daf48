// Building RequestFacts from a parsed OpenAI request: one function for live traffic and
// the offline verbs, so both hand the router exactly the same facts.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "openai/request.h"
#include "routing/router.h"

namespace signalbox::routing {

using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view)>;

// REQUIRES: `req` outlives the returned facts.
RequestFacts FactsFromRequest(const ParsedRequest& req, std::string_view key_id,
                              HeaderLookup header);

// The budget view before any key is considered: the config's per-request cap.
BudgetView BaseBudget(const Config& cfg);

// Applies an `x-signalbox-max-cost-usd` value: a finite number >= 0 that can lower the
// view's request cap, never raise it. False (view untouched) when the value is not one.
bool ApplyCostCapHeader(std::string_view value, BudgetView* view);

}  // namespace signalbox::routing
