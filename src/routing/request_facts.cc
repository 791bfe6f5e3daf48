#include "routing/request_facts.h"

#include <charconv>
#include <cmath>

namespace signalbox::routing {

RequestFacts FactsFromRequest(const ParsedRequest& req, std::string_view key_id,
                              HeaderLookup header) {
  RequestFacts f;
  f.model = req.model;
  f.key_id = key_id;
  f.header = std::move(header);
  f.stream = req.stream;
  f.has_tools = req.has_tools;
  f.has_images = req.has_images;
  f.embeddings = req.endpoint == Endpoint::kEmbeddings;
  f.max_tokens = req.max_tokens;
  f.n = req.n;
  f.input = f.embeddings ? nullptr : &req.classify;
  f.embedding_input_chars = req.embedding_input_chars;
  f.extra_input_tokens = req.extra_input_tokens;
  f.images = req.images;
  f.api = FamilyOf(req.endpoint);
  return f;
}

bool ApplyCostCapHeader(std::string_view value, BudgetView* view) {
  double v = -1;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(v) || v < 0) {
    return false;
  }
  if (!view->request_cap_usd || v < *view->request_cap_usd) {
    view->request_cap_usd = v;
    view->request_cap_from_header = true;
  }
  return true;
}

BudgetView BaseBudget(const Config& cfg) {
  BudgetView b;
  if (cfg.has_budgets) b.request_cap_usd = cfg.budgets.request_max_usd;
  return b;
}

}  // namespace signalbox::routing
