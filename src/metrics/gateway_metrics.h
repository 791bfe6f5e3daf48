// GatewayMetrics: the metric families SPEC.md ("Metrics") promises, registered in one
// place so their names, labels, help and buckets cannot drift between callers.
//
// Immutable after Register() (a bundle of family pointers owned by the Registry);
// recording through it is thread-safe and lock-free on a kept series. The lead's request
// path records, e.g.:
//
//   m.requests->WithLabels({backend, tier, rule, "200", "chat"}).Inc();
//   m.request_duration->WithLabels({backend}).Observe(seconds);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "metrics/family.h"
#include "metrics/registry.h"

namespace signalbox::metrics {

// Label values fixed by the gateway.
inline constexpr std::string_view kTokenInput = "input";        // upstream_tokens{type}
inline constexpr std::string_view kTokenOutput = "output";      // upstream_tokens{type}
inline constexpr std::string_view kReloadSuccess = "success";   // config_reloads{result}
inline constexpr std::string_view kReloadFailure = "failure";   // config_reloads{result}
inline constexpr std::string_view kAnonymousKey = "anonymous";  // key label without keys

struct GatewayMetrics {
  // signalbox_requests_total{backend,tier,rule,status,api}: requests finished, counted at
  // the end. `status` is the numeric HTTP status; `tier` is "" for explicit models; `api`
  // is chat, completions, embeddings, responses or messages ("" for a refusal before the
  // path was known to be one of them).
  CounterFamily* requests = nullptr;
  // signalbox_request_duration_seconds{backend}: accept to last byte.
  HistogramFamily* request_duration = nullptr;
  // signalbox_time_to_first_token_seconds{backend}: streaming requests only.
  HistogramFamily* time_to_first_token = nullptr;
  // signalbox_upstream_tokens_total{backend,type}: type is kTokenInput|kTokenOutput.
  CounterFamily* upstream_tokens = nullptr;
  // signalbox_cost_usd_total{backend,key}: spend as committed to the ledger.
  CounterFamily* cost_usd = nullptr;
  // signalbox_fallbacks_total{from,to,reason}: one per move to the next candidate.
  CounterFamily* fallbacks = nullptr;
  // signalbox_budget_rejections_total{key}: requests refused (429) for budget.
  CounterFamily* budget_rejections = nullptr;
  // signalbox_rate_limited_total{key,limit}: requests refused (429) by a key's limit;
  // limit is rpm, tpm or max_parallel.
  CounterFamily* rate_limited = nullptr;
  // signalbox_inflight_requests: requests accepted and not yet finished.
  GaugeFamily* inflight_requests = nullptr;
  // signalbox_config_reloads_total{result}: result is kReloadSuccess|kReloadFailure.
  CounterFamily* config_reloads = nullptr;
  // signalbox_classifier_seconds: time to score one prompt.
  HistogramFamily* classifier_seconds = nullptr;
  // signalbox_deployment_attempts_total{backend,deployment,outcome}: upstream attempts per
  // deployment, by outcome (`ok`, or the failure: upstream_5xx, connect_failed, ...; the
  // `outcome` names of docs/resilience.md). Bounded: deployments come from the config.
  CounterFamily* deployment_attempts = nullptr;

  // Registers every family above (idempotent) and pre-creates the series whose label
  // values are fixed (config_reloads for both results).
  static StatusOr<GatewayMetrics> Register(Registry& registry);

  // Pre-creates the series that the config makes known, so dashboards see 0 rather
  // than no series: per backend the duration, TTFT and token series; per backend and
  // key the cost series; per key the budget-rejection series. Pass kAnonymousKey when no
  // keys are configured. Safe to call again after each reload (series are never removed).
  void Precreate(const std::vector<std::string>& backends,
                 const std::vector<std::string>& keys) const;
  // Pre-creates signalbox_rate_limited_total for the limits a key has.
  void PrecreateLimits(const std::string& key, const std::vector<std::string_view>& limits) const;
};

// signalbox_cluster_up: 1 while Redis answers (always 1 without cluster.redis).
Status RegisterClusterUp(Registry& registry, GaugeCallback fn);

// signalbox_backend_up{backend}: 1 when the backend may take traffic (its circuit is
// not open), else 0. `fn` reads the live state at every scrape (see GaugeCallback).
Status RegisterBackendUp(Registry& registry, GaugeCallback fn);

// signalbox_deployment_inflight{backend,deployment}: upstream attempts in flight on each
// deployment (the balancer's load signal), read live at every scrape.
Status RegisterDeploymentInflight(Registry& registry, GaugeCallback fn);

}  // namespace signalbox::metrics
