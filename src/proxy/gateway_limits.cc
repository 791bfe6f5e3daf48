// Per-key limits and the cluster's shared state in the Gateway: admission, the
// x-ratelimit-* headers, the limit view of the decision JSON, the settle.
#include <fmt/format.h>

#include "budget/money.h"
#include "common/log.h"
#include "proxy/gateway_admission.h"

namespace signalbox {
namespace {

ApiError LimitError(const budget::RateDenial& d) {
  // Coming back later is right for a limit; only a request larger than the whole tpm can
  // never pass, and the SDKs should not retry it (the table's x-should-retry column).
  return MakeError(d.never ? ErrorCode::kTokensOverLimit : ErrorCode::kRateLimitExceeded, d.message,
                   "", d.retry_after_s);
}

}  // namespace

// OpenAI's x-ratelimit-* headers for the limits a key has.
void AddLimitHeaders(const budget::RateLimitState& st, std::vector<Header>* h) {
  if (st.limit_requests) {
    h->push_back({"x-ratelimit-limit-requests", std::to_string(*st.limit_requests)});
    h->push_back({"x-ratelimit-remaining-requests", std::to_string(*st.remaining_requests)});
  }
  if (st.limit_tokens) {
    h->push_back({"x-ratelimit-limit-tokens", std::to_string(*st.limit_tokens)});
    h->push_back({"x-ratelimit-remaining-tokens", std::to_string(*st.remaining_tokens)});
  }
}

// Tokens a request is expected to spend: its prompt and its output allowance.
// count_tokens is a request but spends no tokens.
int64_t Gateway::EstimatedTokens(const Admission& a) {
  if (a.req.endpoint == Endpoint::kCountTokens) return 0;
  return a.decision.input_tokens + a.decision.output_tokens;
}

void Gateway::CountLimited(const Admission& a, const std::string& key,
                           const budget::RateDenial& d) const {
  if (d_.metrics) {
    d_.metrics->rate_limited->WithLabels({key, std::string(budget::LimitLabel(d.kind))}).Inc();
  }
  Log(LogLevel::kInfo, "rate limited")
      .Field("request_id", a.in.request_id)
      .Field("key", key)
      .Field("limit", budget::LimitLabel(d.kind));
}

std::optional<ApiError> Gateway::AdmitLimits(const KeyEntry& key, Admission& a) {
  budget::Admitted adm = d_.limiter->Admit(key.id, key.rate, EstimatedTokens(a));
  AddLimitHeaders(adm.state, &a.in.headers);
  a.limit_headers = true;
  if (!adm.denial) {
    a.ticket = std::move(adm.ticket);
    return std::nullopt;
  }
  CountLimited(a, key.id, *adm.denial);
  return LimitError(*adm.denial);
}

// With cluster.redis, one Redis round trip takes the key's limits and the target's
// estimate of its budget together. Keys without limits or budget skip it (their spend is
// still added at the settle).
std::optional<ApiError> Gateway::AdmitCluster(const KeyEntry* key, Admission& a) {
  if (key == nullptr) return std::nullopt;
  const bool has_budget = key->daily_usd || key->monthly_usd;
  if (!key->rate.any() && !has_budget) return std::nullopt;
  const routing::Candidate* target = a.decision.target();
  const double estimate = target != nullptr && a.req.endpoint != Endpoint::kCountTokens
                              ? target->estimated_cost_usd
                              : 0.0;
  cluster::ClusterAdmission adm =
      d_.cluster->Admit(key->id, key->rate, budget::BudgetLimits{key->daily_usd, key->monthly_usd},
                        EstimatedTokens(a), estimate);
  if (key->rate.rpm || key->rate.tpm) {
    AddLimitHeaders(adm.state, &a.in.headers);
    a.limit_headers = true;
  }
  switch (adm.verdict) {
    case cluster::ClusterAdmission::Verdict::kAdmitted:
      a.cluster_ticket = std::move(adm.ticket);
      return std::nullopt;
    case cluster::ClusterAdmission::Verdict::kLimited:
      CountLimited(a, key->id, *adm.denial);
      return LimitError(*adm.denial);
    case cluster::ClusterAdmission::Verdict::kBudget:
      return MakeError(ErrorCode::kBudgetExceeded,
                       fmt::format("Budget exceeded: {}.", adm.message));
    case cluster::ClusterAdmission::Verdict::kUnavailable:
      break;
  }
  return MakeError(ErrorCode::kClusterUnavailable, adm.message, "", 1);
}

void Gateway::SettleCluster(Admission& a) const {
  if (d_.cluster == nullptr || a.in.key_id.empty()) return;
  std::vector<cluster::BackendCost> costs;
  for (const auto& at : a.result.attempts) {
    if (at.billed) costs.push_back({at.backend, budget::ToNanoUsd(at.cost_usd)});
  }
  d_.cluster->Settle(a.cluster_ticket, a.in.key_id, a.result.input_tokens + a.result.output_tokens,
                     costs);
}

budget::RateLimitState Gateway::LimitState(const KeyEntry& key) const {
  if (d_.cluster != nullptr) return d_.cluster->State(key.id, key.rate);
  if (d_.limiter != nullptr) return d_.limiter->State(key.id, key.rate);
  return {};
}

std::optional<routing::LimitInfo> Gateway::LimitView(const Snapshot& snap,
                                                     const std::string& key_id,
                                                     const std::string& model) const {
  const KeyEntry* k = snap.KeyById(key_id);
  if (k == nullptr) return std::nullopt;
  routing::LimitInfo info;
  info.key = k->id;
  info.limits = k->rate;
  if (d_.limiter != nullptr || d_.cluster != nullptr) info.state = LimitState(*k);
  info.models = k->models;
  info.model_allowed = k->Allows(model);
  return info;
}

}  // namespace signalbox
