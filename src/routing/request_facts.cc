#include "routing/request_facts.h"

namespace switchyard::routing {

RequestFacts FactsFromRequest(const ParsedRequest& req, std::string_view key_id, HeaderLookup header) {
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
  return f;
}

BudgetView BaseBudget(const Config& cfg) {
  BudgetView b;
  if (cfg.has_budgets) b.request_cap_usd = cfg.budgets.request_max_usd;
  return b;
}

}  // namespace switchyard::routing
