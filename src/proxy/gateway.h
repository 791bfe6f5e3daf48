// Gateway: the HTTP API of signalbox — request entry points from admission to the
// access-log line. It owns no long-lived state: it wires the services it is given.
//
// Thread-safe: every method may run on many request threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "budget/rate_limiter.h"
#include "budget/spend_tracker.h"
#include "cluster/cluster_state.h"
#include "common/clock.h"
#include "metrics/access_log.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"
#include "openai/request.h"
#include "proxy/proxy_call.h"
#include "routing/decision_json.h"
#include "runtime/affinity_map.h"
#include "runtime/config_store.h"
#include "server/http_server.h"
#include "upstream/backends.h"
#include "upstream/watchdog.h"

namespace signalbox {

struct GatewayDeps {
  const Clock* clock = nullptr;
  ConfigStore* store = nullptr;
  Watchdog* watchdog = nullptr;
  // The network to the backends; null = HTTP through `watchdog` (HttpTransport).
  UpstreamTransport* transport = nullptr;
  RetryBudget* retry_budget = nullptr;
  budget::SpendTracker* spend = nullptr;       // may be null
  metrics::Registry* registry = nullptr;       // may be null
  metrics::GatewayMetrics* metrics = nullptr;  // may be null
  metrics::AccessLog* access_log = nullptr;    // may be null
  // POST /admin/reload: reloads the config file now.
  std::function<ReloadResult(const std::string& trigger)> reload;
  const std::atomic<bool>* draining = nullptr;  // SIGTERM received: /readyz says 503
  AffinityMap* affinity = nullptr;              // previous_response_id -> backend; null = none
  budget::RateLimiter* limiter = nullptr;       // keys' rpm/tpm/max_parallel; null = none
  // cluster.redis: budgets and limits shared by every replica (replaces `limiter` for
  // admission); null = this process alone.
  cluster::ClusterState* cluster = nullptr;
};

class Gateway {
 public:
  explicit Gateway(GatewayDeps deps);

  // Registers every route on the server.
  void Register(HttpServer& server);

  // Before the body is read: API keys on /v1/*, the admin token on /admin/*.
  std::optional<ApiError> Gate(const RequestHead& head) const;

  int active_streams() const { return streams_.load(); }

  // A request the HTTP layer refused before it reached a handler: counted in
  // signalbox_requests_total and written to the access log like any other.
  std::vector<Header> OnRefusal(const RequestHead& head, const ApiError& e) const;

 private:
  struct Admission;
  void HandleProxy(Exchange& ex, Endpoint ep);
  void Proxy(Exchange& ex, Endpoint ep, Admission& a);
  // Routes the request (a.decision) and adds the rule/tier/score headers.
  void Route(const Snapshot& snap, const Exchange& ex, const routing::BudgetView& bv,
             Admission& a) const;
  // The refusal a decision that routes nowhere means (unknown model, budget, no fit, API
  // not served), or nullopt.
  std::optional<ApiError> RefusalOf(const Admission& a) const;
  // Takes a stream slot (server.max_streams) for a stream request; the 503 when none is
  // free.
  std::optional<ApiError> AdmitStream(const Snapshot& snap, Admission& a);
  void HandleModels(Exchange& ex);
  void HandleRoute(Exchange& ex);
  void HandleReady(Exchange& ex);
  void HandleMetrics(Exchange& ex);
  void HandleAdminConfig(Exchange& ex);
  void HandleAdminReload(Exchange& ex);
  void HandleAdminSpend(Exchange& ex);

  // Resolves the caller's key id ("anonymous" when no keys are configured).
  std::string KeyId(const Snapshot& snap, const Exchange& ex) const;
  std::optional<ApiError> BudgetView(const Snapshot& snap, const Exchange& ex,
                                     const std::string& key_id, routing::BudgetView* out,
                                     budget::BudgetLimits* limits) const;
  void Reply(Exchange& ex, const std::vector<Header>& headers, const ApiError& e) const;
  // Takes the key's limits for the request (sets a.ticket) and adds the x-ratelimit-*
  // headers; the refusal to send when a limit is reached.
  std::optional<ApiError> AdmitLimits(const KeyEntry& key, Admission& a);
  // The same with cluster.redis: limits and the target's budget estimate in one step.
  std::optional<ApiError> AdmitCluster(const KeyEntry* key, Admission& a);
  budget::RateLimitState LimitState(const KeyEntry& key) const;
  static int64_t EstimatedTokens(const Admission& a);
  void CountLimited(const Admission& a, const std::string& key, const budget::RateDenial& d) const;
  // Ends the request's hold on the cluster's shared state (from ~Admission).
  void SettleCluster(Admission& a) const;
  // The key's limit state for the decision JSON; nullopt without keys.
  std::optional<routing::LimitInfo> LimitView(const Snapshot& snap, const std::string& key_id,
                                              const std::string& model) const;
  // The backend that produced the request's previous_response_id, if known.
  std::optional<std::string> AffinityFor(const ParsedRequest& req) const;
  // count_tokens when no backend serves Messages: the gateway's own estimate.
  void AnswerTokenCount(Exchange& ex, Admission& a) const;
  void Record(const ProxyInput& in, const ParsedRequest* req, const routing::Decision* d,
              const ProxyResult& r, bool stream) const;

  GatewayDeps d_;
  std::unique_ptr<UpstreamTransport> own_transport_;  // when deps gave none
  UpstreamTransport* transport_;
  mutable std::atomic<int> streams_{0};
};

// A request id: the client's x-request-id when it is safe to echo, else a new one.
std::string RequestIdFor(std::optional<std::string_view> client_value);

}  // namespace signalbox
