// The one record of each proxied request: its metrics and its access-log line
// (Gateway::Record, called once from ~Admission).
#include <chrono>
#include <string>

#include "proxy/gateway.h"

namespace signalbox {

void Gateway::Record(const ProxyInput& in, const ParsedRequest* req, const routing::Decision* d,
                     const ProxyResult& r, bool stream) const {
  double duration_s = std::chrono::duration<double>(d_.clock->Now() - in.start).count();
  std::string tier = d && d->classified ? d->classification.tier : "";
  std::string rule = d ? d->rule : "";
  if (d_.metrics) {
    const auto& m = *d_.metrics;
    m.requests
        ->WithLabels({r.backend, tier, rule, std::to_string(r.status),
                      req ? std::string(ApiLabel(req->endpoint)) : std::string()})
        .Inc();
    // Every budget refusal, whether the router refused up front or the chain ended at an
    // unaffordable fallback.
    if (r.status == 429 && r.error == CodeName(ErrorCode::kBudgetExceeded))
      m.budget_rejections->WithLabels({in.key_id}).Inc();
    m.request_duration->WithLabels({r.backend}).Observe(duration_s);
    if (stream && r.ttft_ms)
      m.time_to_first_token->WithLabels({r.backend}).Observe(*r.ttft_ms / 1000.0);
    for (const auto& a : r.attempts) {
      if (!a.billed) continue;
      m.upstream_tokens->WithLabels({a.backend, std::string(metrics::kTokenInput)})
          .Add(static_cast<double>(a.input_tokens));
      m.upstream_tokens->WithLabels({a.backend, std::string(metrics::kTokenOutput)})
          .Add(static_cast<double>(a.output_tokens));
      m.cost_usd->WithLabels({a.backend, in.key_id}).Add(a.cost_usd);
    }
    for (size_t i = 0; i < r.fallbacks.size(); ++i) {
      std::string reason = i < r.fallback_reasons.size() ? r.fallback_reasons[i] : "error";
      m.fallbacks->WithLabels({r.fallbacks[i].first, r.fallbacks[i].second, reason}).Inc();
    }
  }
  if (d_.access_log) {
    metrics::AccessRecord a;
    a.request_id = in.request_id;
    if (!in.key_id.empty()) a.key = in.key_id;
    if (req && !req->model.empty()) a.model = req->model;
    if (!r.backend.empty()) a.backend = r.backend;
    if (!rule.empty()) a.rule = rule;
    if (d && d->classified) {
      a.tier = tier;
      a.score = d->classification.score;
    }
    a.status = r.status;
    a.duration_ms = duration_s * 1000.0;
    if (stream) a.ttft_ms = r.ttft_ms;
    if (!r.attempts.empty()) {
      a.input_tokens = r.input_tokens;
      a.output_tokens = r.output_tokens;
      a.cost_usd = r.cost_usd;
    }
    a.attempts = static_cast<int>(r.attempts.size());
    if (!r.error.empty()) a.error = r.error;
    if (!r.deployment.empty()) a.deployment = r.deployment;
    d_.access_log->Write(a);
  }
}

}  // namespace signalbox
