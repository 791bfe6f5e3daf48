#include "metrics/gateway_metrics.h"

#include <utility>

namespace signalbox::metrics {
namespace {

// Assigns a registered family to `*slot`, or keeps the first error.
template <typename F>
void Take(StatusOr<F*> result, F** slot, Status& first_error) {
  if (result.ok()) {
    *slot = *result;
  } else if (first_error.ok()) {
    first_error = result.status();
  }
}

}  // namespace

StatusOr<GatewayMetrics> GatewayMetrics::Register(Registry& r) {
  GatewayMetrics m;
  Status err;
  Take(r.AddCounter("signalbox_requests_total",
                    "Requests finished, by backend, tier, routing rule, HTTP status and API.",
                    {"backend", "tier", "rule", "status", "api"}),
       &m.requests, err);
  Take(r.AddHistogram("signalbox_request_duration_seconds",
                      "Time from accepting a request to sending its last byte.", {"backend"},
                      RequestSecondsBuckets()),
       &m.request_duration, err);
  Take(r.AddHistogram("signalbox_time_to_first_token_seconds",
                      "Time from accepting a streaming request to relaying its first event.",
                      {"backend"}, RequestSecondsBuckets()),
       &m.time_to_first_token, err);
  Take(r.AddCounter("signalbox_upstream_tokens_total",
                    "Tokens reported by upstream usage, by backend and type (input|output).",
                    {"backend", "type"}),
       &m.upstream_tokens, err);
  Take(r.AddCounter("signalbox_cost_usd_total", "Spend in US dollars, by backend and key.",
                    {"backend", "key"}),
       &m.cost_usd, err);
  Take(r.AddCounter("signalbox_fallbacks_total",
                    "Moves from one backend to the next candidate, by reason.",
                    {"from", "to", "reason"}),
       &m.fallbacks, err);
  Take(r.AddCounter("signalbox_budget_rejections_total",
                    "Requests refused because a budget would be exceeded, by key.", {"key"}),
       &m.budget_rejections, err);
  Take(r.AddCounter("signalbox_rate_limited_total",
                    "Requests refused (429) by a key's limit, by key and limit "
                    "(rpm|tpm|max_parallel).",
                    {"key", "limit"}),
       &m.rate_limited, err);
  Take(r.AddGauge("signalbox_inflight_requests", "Requests accepted and not yet finished.", {}),
       &m.inflight_requests, err);
  Take(r.AddCounter("signalbox_config_reloads_total",
                    "Config reload attempts, by result (success|failure).", {"result"}),
       &m.config_reloads, err);
  Take(r.AddHistogram("signalbox_classifier_seconds", "Time to score one prompt's complexity.", {},
                      ClassifierSecondsBuckets()),
       &m.classifier_seconds, err);
  Take(r.AddCounter("signalbox_deployment_attempts_total",
                    "Upstream attempts per deployment of a backend, by outcome (ok or the "
                    "failure).",
                    {"backend", "deployment", "outcome"}),
       &m.deployment_attempts, err);
  if (!err.ok()) return err;
  m.config_reloads->WithLabels({kReloadSuccess});
  m.config_reloads->WithLabels({kReloadFailure});
  return m;
}

void GatewayMetrics::Precreate(const std::vector<std::string>& backends,
                               const std::vector<std::string>& keys) const {
  for (const std::string& b : backends) {
    request_duration->WithLabels({b});
    time_to_first_token->WithLabels({b});
    upstream_tokens->WithLabels({b, kTokenInput});
    upstream_tokens->WithLabels({b, kTokenOutput});
    for (const std::string& k : keys) cost_usd->WithLabels({b, k});
  }
  for (const std::string& k : keys) budget_rejections->WithLabels({k});
}

void GatewayMetrics::PrecreateLimits(const std::string& key,
                                     const std::vector<std::string_view>& limits) const {
  for (std::string_view l : limits) rate_limited->WithLabels({key, std::string(l)});
}

Status RegisterClusterUp(Registry& registry, GaugeCallback fn) {
  return registry.AddGaugeCallback(
      "signalbox_cluster_up",
      "1 while the cluster's Redis answers (or no cluster is configured), else 0.", {},
      std::move(fn));
}

Status RegisterBackendUp(Registry& registry, GaugeCallback fn) {
  return registry.AddGaugeCallback(
      "signalbox_backend_up",
      "Whether a backend may take traffic: 1 when its circuit is not open, else 0.", {"backend"},
      std::move(fn));
}

Status RegisterDeploymentInflight(Registry& registry, GaugeCallback fn) {
  return registry.AddGaugeCallback("signalbox_deployment_inflight",
                                   "Upstream attempts in flight on each deployment of a backend.",
                                   {"backend", "deployment"}, std::move(fn));
}

}  // namespace signalbox::metrics
