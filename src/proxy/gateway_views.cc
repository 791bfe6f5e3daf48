// The Gateway's read-only views of routing: GET /v1/models and POST /v1/route.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_writer.h"
#include "proxy/gateway_admission.h"
#include "routing/decision_json.h"
#include "routing/request_facts.h"

namespace signalbox {

void Gateway::HandleModels(Exchange& ex) {
  auto snap = d_.store->Current();
  int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(snap->loaded_at.time_since_epoch()).count();
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Field("object", "list").Key("data").BeginArray();
  std::vector<std::string> seen;
  auto add = [&](const std::string& id, const std::string& owner) {
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) return;
    seen.push_back(id);
    w.BeginObject()
        .Field("id", id)
        .Field("object", "model")
        .Field("created", created)
        .Field("owned_by", owner)
        .EndObject();
  };
  for (const auto& m : snap->config->router.virtual_models) add(m, "signalbox");
  if (snap->config->router.allow_explicit_models) {
    for (const auto& b : snap->config->backends) add(b.model, b.name);
  }
  w.EndArray().EndObject();
  ex.Respond(200, {{"x-request-id", RequestIdFor(ex.header("x-request-id"))}}, "application/json",
             std::move(body));
}

void Gateway::HandleRoute(Exchange& ex) {
  auto snap = d_.store->Current();
  std::vector<Header> headers = {{"x-request-id", RequestIdFor(ex.header("x-request-id"))}};
  // The body of any API: ?api=chat|responses|messages says which, else it is detected.
  Endpoint ep = Endpoint::kChat;
  if (auto api = ex.query_param("api")) {
    if (*api == "responses")
      ep = Endpoint::kResponses;
    else if (*api == "messages")
      ep = Endpoint::kMessages;
    else if (*api != "chat")
      return Reply(ex, headers,
                   InvalidRequest(ErrorCode::kInvalidValue,
                                  "?api= must be chat, responses or messages", "api"));
  } else {
    ep = DetectEndpoint(nlohmann::json::parse(ex.body(), nullptr, /*allow_exceptions=*/false));
  }
  ParsedRequest req;
  if (auto e = ParseRequest(ep, ex.body(), &req)) return Reply(ex, headers, *e);
  std::string key_id = KeyId(*snap, ex);
  routing::BudgetView bv;
  budget::BudgetLimits limits;
  if (auto e = BudgetView(*snap, ex, key_id, &bv, &limits)) return Reply(ex, headers, *e);
  routing::RequestFacts facts = routing::FactsFromRequest(
      req, snap->keys_configured() ? std::string_view(key_id) : std::string_view(),
      [&ex](std::string_view n) { return ex.header(n); });
  std::optional<std::string> affinity = AffinityFor(req);
  std::string affinity_deployment;
  if (affinity) facts.affinity_backend = AffinityBackend(*affinity, &affinity_deployment);
  routing::Decision d = snap->router->Decide(facts, bv);
  std::optional<routing::BudgetInfo> info;
  if (snap->keys_configured())
    info = routing::BudgetInfo{key_id, bv.day_remaining_usd, bv.month_remaining_usd};
  auto live = [&snap](int i) { return LiveDeployments(snap->backends.at(i)); };
  ex.Respond(200, headers, "application/json",
             routing::DecisionJson(d, req.model, info, /*pretty=*/false,
                                   LimitView(*snap, key_id, req.model), live));
}

}  // namespace signalbox
