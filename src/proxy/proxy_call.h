// ProxyCall: forwards one routed request along its candidate chain and answers the
// client — the fallback, retry and relay semantics of issue #4 in one place.
//
// One-per-request, run on the request's thread. See proxy/README.md for the table of
// what moves to the next candidate, what is retried, and what is relayed as is.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "budget/spend_tracker.h"
#include "common/clock.h"
#include "openai/error.h"
#include "openai/request.h"
#include "openai/response.h"
#include "proxy/attempt_outcome.h"
#include "proxy/forward_headers.h"
#include "routing/router.h"
#include "runtime/affinity_map.h"
#include "runtime/snapshot.h"
#include "server/exchange.h"
#include "upstream/backends.h"
#include "upstream/upstream_call.h"
#include "upstream/watchdog.h"

namespace signalbox {

class SseRelay;

namespace metrics {
struct GatewayMetrics;
}

// Long-lived services a request uses (all thread-safe).
struct ProxyServices {
  const Clock& clock;  // the request's time: deadlines, backoff, time to first token
  UpstreamTransport& transport;
  RetryBudget& retry_budget;
  budget::SpendTracker* spend = nullptr;       // null: no accounting (tests)
  metrics::GatewayMetrics* metrics = nullptr;  // null: no metrics
  AffinityMap* affinity = nullptr;             // null: no previous_response_id affinity
};

// What one request brings to the call.
struct ProxyInput {
  const Snapshot* snap = nullptr;
  Exchange* ex = nullptr;
  const ParsedRequest* req = nullptr;
  std::string_view raw_body;
  const routing::Decision* decision = nullptr;
  std::string request_id;
  std::string key_id;  // "anonymous" without keys
  budget::BudgetLimits limits;
  std::chrono::steady_clock::time_point start;
  std::vector<Header> headers;  // x-request-id, x-signalbox-rule/tier/score
  bool beta = false;            // Messages: the client called with ?beta=true
  // Client headers to pass upstream (see ForwardableHeaders()).
  std::vector<std::pair<std::string, std::string>> forward_headers;
  // Responses: the deployment of decision->affinity that produced previous_response_id;
  // it is preferred while it can take the request. "" = none.
  std::string affinity_deployment;
};

// One upstream attempt, for the ledger, metrics and the access log.
struct AttemptLog {
  std::string backend;
  std::string deployment;  // its name, else its index
  int number = 0;          // 1-based within the request
  std::string outcome;     // ok, client_error, rate_limited, upstream_5xx, connect_failed, ...
  int status = 0;          // upstream HTTP status, 0 if none
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  bool estimated = false;
  double cost_usd = 0;
  bool billed = false;  // produced tokens (a ledger row)
};

// What the request ended as.
struct ProxyResult {
  int status = 0;          // what the client got (200 also for streams that failed in-band)
  std::string backend;     // the backend of the final attempt, "" if none ran
  std::string deployment;  // the deployment of the final attempt, "" if none ran
  std::string error;       // the error code when the request failed, "" on success
  std::optional<double> ttft_ms;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  std::vector<AttemptLog> attempts;
  std::vector<std::pair<std::string, std::string>> fallbacks;  // (from, to) ... with reason
  std::vector<std::string> fallback_reasons;
};

class ProxyCall {
 public:
  ProxyCall(ProxyServices& svc, const ProxyInput& in) : svc_(svc), in_(in) {}
  ProxyResult Run();

 private:
  enum class Verdict {
    kDone,   // the client has its answer (success, relayed client error, or a committed stream)
    kNext,   // try the next candidate (no retry of this one)
    kRetry,  // the same backend may be retried, then the next candidate
    kClientGone,  // stop: nobody is listening
    kStop,        // no further attempt: answer with what failed so far
  };
  // One candidate's failure, for the all-failed answer.
  struct Failure {
    std::string backend;
    std::string what;  // human text, no URLs
    ErrorCode code;    // connect_failed, timeout, rate_limited, circuit_open, ...
    int status_hint;   // 502 / 503 / 504 / 429
    int retry_after_s = 0;
  };
  void Fail(std::string backend, std::string what, ErrorCode code, int retry_after_s = 0,
            int status = 0) {
    failures_.push_back({std::move(backend), std::move(what), code,
                         status != 0 ? status : SpecOf(code).http, retry_after_s});
  }

  // The end of the request, in one place: Finish() settles the spend (durable in the
  // ledger, counted in the budget) and only then lets the client see the end of its
  // answer, whichever way the request ends.
  struct Final {
    enum class Kind {
      kRespond,      // a complete response: status, headers, body
      kStreamOk,     // a committed stream: its held terminal event and the chunked end
      kStreamError,  // a committed stream: the dialect's in-band error event
      kStreamAbort,  // a committed stream whose client is gone: close
      kNothing,      // the client is gone before anything was committed
    };
    Kind kind = Kind::kRespond;
    int status = 0;
    std::optional<ErrorCode> error;  // the request failed (access log, metrics)
    std::vector<Header> headers;     // kRespond
    std::string body;                // kRespond: the body; kStreamError: the message

    static Final Respond(int status, std::optional<ErrorCode> error, std::vector<Header> headers,
                         std::string body) {
      return {Kind::kRespond, status, error, std::move(headers), std::move(body)};
    }
    // A committed stream keeps its 200 however it ends.
    static Final Stream(Kind kind, std::optional<ErrorCode> error = std::nullopt,
                        std::string message = "") {
      return {kind, 200, error, {}, std::move(message)};
    }
    static Final Nothing(int status, std::optional<ErrorCode> error) {
      return {Kind::kNothing, status, error, {}, {}};
    }
  };
  void Finish(Final f, SseRelay* relay = nullptr);

  // The attempts on one candidate backend (proxy_deployments.cc): a deployment picked by
  // the balancer; after a failure another untried healthy deployment at once, then
  // `retries` retries of the last one with backoff. `panic`: every deployment's circuit
  // is open and the route's panic allowance is spent on this backend.
  Verdict TryBackend(const SnapshotBackend& b, const routing::Candidate& c, bool panic);
  struct BackendAvailability {
    bool healthy = false;                // some deployment's circuit admits requests
    bool all_rate_limited = false;       // every deployment is inside a 429 retry-after
    int retry_after_s = 0;               // then the soonest it ends
    bool below_max_concurrency = false;  // some deployment below max_concurrency
  };
  BackendAvailability Availability(const SnapshotBackend& b) const;
  // Whether candidate `c` may be tried now: its availability (a panic try when every
  // candidate is down and `*panic_available`; sets *panic), its max_concurrency, and a
  // budget reservation for its estimate. When not, records the failure and returns the
  // fallback reason.
  std::optional<std::string> AdmitCandidate(const SnapshotBackend& b, const routing::Candidate& c,
                                            bool* panic_available, bool* panic);
  // Replaces the reservation with one for `c`'s estimate; OK without a tracker or for
  // count_tokens.
  Status ReserveFor(const routing::Candidate& c);
  enum class Pick { kAdmit, kAdmitOrPanic, kIgnoreHealth };
  // A deployment for the next attempt that `tried` excludes, admitted by its circuit
  // (kAdmit; kAdmitOrPanic also takes an open one when none is healthy; kIgnoreHealth
  // asks no circuit). Sets probe_. nullptr when none.
  const SnapshotDeployment* ChooseDeployment(const SnapshotBackend& b,
                                             const std::vector<bool>& tried, Pick mode);
  bool HasUntriedHealthy(const SnapshotBackend& b, const std::vector<bool>& tried) const;
  // The label of the current attempt's target in messages: "backend", or
  // "backend/deployment" when the backend lists deployments.
  std::string Target(const SnapshotBackend& b) const;
  Verdict Attempt(const SnapshotBackend& b, const SnapshotDeployment& d,
                  const routing::Candidate& c);
  // The attempt's verdict for its deployment's circuit breaker (a probe's verdict closes
  // or re-opens it).
  void Healthy();
  void Unhealthy();
  bool TryDespiteCircuits();
  Verdict AttemptPlain(const SnapshotBackend& b, UpstreamRequest& ur, AttemptLog& log);
  Verdict AttemptStream(const SnapshotBackend& b, UpstreamRequest& ur, AttemptLog& log);
  Verdict FinishCommittedStream(const SnapshotBackend& b, SseRelay& relay, const CallResult& r,
                                AttemptLog& log);
  // Applies RuleFor(o): the circuit verdict, the failure record, a relayed client error,
  // and what to do next. The one place an attempt's outcome becomes a decision.
  Verdict Conclude(const SnapshotBackend& b, Outcome o, const UpstreamHead& head,
                   std::string_view body, AttemptLog& log);
  Verdict ClientGone(const SnapshotBackend& b, AttemptLog& log);
  void ApplyCircuitVerdict(CircuitVerdict v, int retry_after_s);
  std::string UpstreamBody(const BackendConfig& b) const;
  // Bills an attempt that reached the upstream. `complete`: the answer ended normally
  // (a cut stream is billed at least for the text it relayed).
  void Bill(AttemptLog& log, const BackendConfig& b, const std::optional<Usage>& usage,
            int64_t output_chars, bool produced, bool complete = true);
  // count_tokens costs nothing: no reservation, no ledger row.
  bool Billable() const { return in_.req->endpoint != Endpoint::kCountTokens; }
  // Responses: remembers which backend and deployment hold response `id`
  // (previous_response_id affinity), as "backend/deployment".
  void RememberResponse(const std::string& id, const BackendConfig& b);
  // Commits the billed attempts not committed yet (durable in the ledger, counted in the
  // budget totals). Settle() does it for the last time and releases the reservation.
  void SettleBilled();
  void Settle();
  void AnswerAllFailed();
  // An error response from the gateway itself (the error table gives status and type).
  void AnswerError(ErrorCode code, std::string message, int retry_after_s = 0);
  std::vector<Header> ResponseHeaders(const BackendConfig& b, bool with_cost) const;

  ProxyServices& svc_;
  const ProxyInput& in_;
  ProxyResult result_;
  std::vector<Failure> failures_;
  std::optional<budget::Reservation> reservation_;
  std::chrono::steady_clock::time_point deadline_;
  const SnapshotDeployment* dep_ = nullptr;  // the deployment of the current attempt
  bool probe_ = false;  // the current attempt is its deployment circuit's half-open probe
  bool settled_ = false;
  size_t settled_upto_ = 0;  // attempts[0, settled_upto_) are committed
  std::string ledger_id_;    // "<x-request-id>@<call id>", made at the first settle
};

}  // namespace signalbox
