#include "proxy/attempt_outcome.h"

namespace signalbox {
namespace {

using C = CircuitVerdict;
using N = NextStep;

struct Row {
  Outcome outcome;
  std::string_view name;
  OutcomeRule rule;
};

// docs/resilience.md, "Upstream outcome (before the commit point)". The status of
// kClientError is the upstream's own (0 here); kOk's is the answer's.
constexpr Row kTable[] = {
    {Outcome::kOk, "ok", {C::kSuccess, N::kDone, 200, std::nullopt}},
    {Outcome::kClientError,
     "client_error",
     {C::kSuccess, N::kDone, 0, ErrorCode::kUpstreamClientError}},
    {Outcome::kClientGone, "client_gone", {C::kNone, N::kDone, 499, ErrorCode::kClientGone}},
    {Outcome::kShutdown, "shutting_down", {C::kNone, N::kStop, 503, ErrorCode::kShuttingDown}},
    {Outcome::kConnectFailed,
     "connect_failed",
     {C::kFailure, N::kRetry, 503, ErrorCode::kConnectFailed}},
    {Outcome::kTlsFailed,
     "tls_failed",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kTlsFailed}},
    {Outcome::kReset,
     "connection_reset",
     {C::kFailure, N::kRetry, 502, ErrorCode::kConnectionReset}},
    {Outcome::kFirstByteTimeout,
     "first_byte_timeout",
     {C::kFailure, N::kRetry, 504, ErrorCode::kTimeout}},
    {Outcome::kIdleTimeout, "idle_timeout", {C::kFailure, N::kRetry, 504, ErrorCode::kTimeout}},
    {Outcome::kTotalTimeout,
     "total_timeout",
     {C::kFailure, N::kNextCandidate, 504, ErrorCode::kTimeout}},
    {Outcome::kRateLimited,
     "rate_limited",
     {C::kRateLimited, N::kNextCandidate, 429, ErrorCode::kRateLimited}},
    {Outcome::kUpstreamAuth,
     "upstream_auth_error",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kUpstreamAuthError}},
    {Outcome::kUpstream5xx,
     "upstream_5xx",
     {C::kFailure, N::kRetry, 502, ErrorCode::kUpstreamError}},
    {Outcome::kUpstream503,
     "upstream_503",
     {C::kFailure, N::kRetry, 503, ErrorCode::kUpstreamError}},
    {Outcome::kRedirect,
     "upstream_redirect",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kUpstreamError}},
    {Outcome::kUnexpected2xx,
     "unexpected_status",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kUpstreamError}},
    {Outcome::kUnusableBody,
     "unusable_response",
     {C::kFailure, N::kRetry, 502, ErrorCode::kUpstreamError}},
    {Outcome::kTooLarge,
     "response_too_large",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kUpstreamError}},
    {Outcome::kNotSse,
     "not_a_stream",
     {C::kFailure, N::kNextCandidate, 502, ErrorCode::kUpstreamError}},
    {Outcome::kBadFirstEvent,
     "bad_first_event",
     {C::kFailure, N::kRetry, 502, ErrorCode::kUpstreamError}},
    {Outcome::kEmptyStream,
     "empty_stream",
     {C::kFailure, N::kRetry, 502, ErrorCode::kUpstreamError}},
    // After the commit point: the client keeps its 200, the stream ends with an error event.
    {Outcome::kStreamInterrupted,
     "stream_interrupted",
     {C::kFailure, N::kDone, 200, ErrorCode::kStreamInterrupted}},
};

const Row& RowOf(Outcome o) {
  for (const Row& r : kTable) {
    if (r.outcome == o) return r;
  }
  return kTable[0];  // unreachable: every Outcome has a row (tested)
}

}  // namespace

OutcomeRule RuleFor(Outcome o) { return RowOf(o).rule; }
std::string_view OutcomeName(Outcome o) { return RowOf(o).name; }

Outcome OutcomeOf(CallError e) {
  switch (e) {
    case CallError::kConnect:
      return Outcome::kConnectFailed;
    case CallError::kTls:
      return Outcome::kTlsFailed;
    case CallError::kFirstByteTimeout:
      return Outcome::kFirstByteTimeout;
    case CallError::kIdleTimeout:
      return Outcome::kIdleTimeout;
    case CallError::kTotalTimeout:
      return Outcome::kTotalTimeout;
    case CallError::kClientGone:
      return Outcome::kClientGone;
    case CallError::kShutdown:
      return Outcome::kShutdown;
    default:
      return Outcome::kReset;
  }
}

Outcome OutcomeOfStatus(int status) {
  if (status == 429) return Outcome::kRateLimited;
  if (status == 401 || status == 403) return Outcome::kUpstreamAuth;
  if (status == 503) return Outcome::kUpstream503;
  if (status >= 500 || status == 408) return Outcome::kUpstream5xx;
  if (status >= 300 && status < 400) return Outcome::kRedirect;
  if (status >= 200 && status < 300) return status == 200 ? Outcome::kOk : Outcome::kUnexpected2xx;
  if (status >= 400) return Outcome::kClientError;
  return Outcome::kReset;  // 1xx or garbage: the exchange broke
}

}  // namespace signalbox
