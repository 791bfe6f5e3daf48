#include "routing/decision_json.h"

#include <nlohmann/json.hpp>

namespace signalbox::routing {
namespace {

const char* KindName(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::kRouted:
      return "routed";
    case Decision::Kind::kExplicit:
      return "explicit";
    case Decision::Kind::kNotFound:
      return "model_not_found";
    case Decision::Kind::kBudgetRejected:
      return "budget_exceeded";
    case Decision::Kind::kNoFit:
      return "context_length_exceeded";
    case Decision::Kind::kNoApi:
      return "api_not_served";
  }
  return "unknown";
}

nlohmann::ordered_json Nullable(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

DeploymentLookup ConfigDeployments(const Config& cfg) {
  return [&cfg](int index) {
    std::vector<DeploymentView> out;
    if (index < 0 || index >= static_cast<int>(cfg.backends.size())) return out;
    for (const auto& d : cfg.backends[index].deployments) {
      DeploymentView v;
      v.name = d.name;
      v.weight = d.weight;
      out.push_back(std::move(v));
    }
    return out;
  };
}

std::string DecisionJson(const Decision& d, std::string_view requested_model,
                         const std::optional<BudgetInfo>& budget, bool pretty,
                         const std::optional<LimitInfo>& limits,
                         const DeploymentLookup& deployments) {
  using json = nlohmann::ordered_json;
  json j = json::object();
  const Candidate* t = d.target();
  bool ok = d.kind == Decision::Kind::kRouted || d.kind == Decision::Kind::kExplicit;
  j["model"] = requested_model;
  j["api"] = ApiFamilyName(d.api);
  j["outcome"] = KindName(d.kind);
  j["backend"] = ok && t ? json(t->backend) : json(nullptr);
  j["rule"] = d.rule.empty() ? json(nullptr) : json(d.rule);
  j["tier"] = d.classified ? json(d.classification.tier) : json(nullptr);
  j["score"] = d.classified ? json(d.classification.score) : json(nullptr);
  j["input_tokens"] = d.input_tokens;
  j["output_tokens"] = d.output_tokens;
  json signals = json::array();
  if (d.classified) {
    for (const auto& s : d.classification.signals) {
      signals.push_back({{"name", s.name},
                         {"value", s.value},
                         {"weight", s.weight},
                         {"contribution", s.contribution}});
    }
  }
  j["signals"] = std::move(signals);
  json cands = json::array();
  for (const auto& c : d.candidates) {
    json cand = {{"backend", c.backend},
                 {"estimated_cost_usd", c.estimated_cost_usd},
                 {"skipped", c.skipped},
                 {"reason", c.reason.empty() ? json(nullptr) : json(c.reason)}};
    if (deployments) {
      json deps = json::array();
      for (const auto& v : deployments(c.backend_index)) {
        json dj = {{"name", v.name}, {"weight", v.weight}, {"eligible", v.eligible}};
        if (v.circuit) dj["circuit"] = *v.circuit;
        if (v.inflight) dj["inflight"] = *v.inflight;
        deps.push_back(std::move(dj));
      }
      cand["deployments"] = std::move(deps);
    }
    cands.push_back(std::move(cand));
  }
  j["candidates"] = std::move(cands);
  if (!d.affinity.empty()) j["affinity"] = d.affinity;
  json trace = json::array();
  for (const auto& r : d.trace) {
    trace.push_back({{"rule", r.rule},
                     {"matched", r.matched},
                     {"why_not", r.why_not.empty() ? json(nullptr) : json(r.why_not)}});
  }
  j["rules"] = std::move(trace);
  if (!d.message.empty()) j["message"] = d.message;
  if (budget) {
    j["budget"] = {{"key", budget->key},
                   {"day_remaining_usd", Nullable(budget->day_remaining_usd)},
                   {"month_remaining_usd", Nullable(budget->month_remaining_usd)}};
  }
  if (limits) {
    auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
    const budget::RateLimits& l = limits->limits;
    json lj = json::object();
    lj["key"] = limits->key;
    lj["rpm"] = opt(l.rpm);
    lj["remaining_requests"] =
        limits->state ? opt(limits->state->remaining_requests) : json(nullptr);
    lj["tpm"] = opt(l.tpm);
    lj["remaining_tokens"] = limits->state ? opt(limits->state->remaining_tokens) : json(nullptr);
    lj["max_parallel"] = opt(l.max_parallel);
    lj["in_flight"] = limits->state ? opt(limits->state->in_flight) : json(nullptr);
    lj["models"] = limits->models ? json(*limits->models) : json(nullptr);
    lj["model_allowed"] = limits->model_allowed;
    j["limits"] = std::move(lj);
  }
  return pretty ? j.dump(2) : j.dump();
}

}  // namespace signalbox::routing
