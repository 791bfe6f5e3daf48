// What one upstream attempt ended as, and the one table that says what happens next.
//
// An attempt (proxy_attempt.cc) reduces everything it saw — a transport error, a status,
// a body or stream that is not a usable answer — to an Outcome. RuleFor() maps it to the
// circuit breaker's verdict, whether to retry the same backend, move to the next
// candidate or stop, and the status and code the client gets if this is the last failure.
// The table is docs/resilience.md's, and tests/proxy/attempt_outcome_test.cc checks the
// two against each other row by row, so the code and the document cannot drift.
//
// Pure: no I/O, no state.
#pragma once

#include <optional>
#include <string_view>

#include "openai/error.h"
#include "upstream/upstream_call.h"

namespace signalbox {

enum class Outcome {
  kOk,                // a usable answer reached the client (plain 200, or a clean stream)
  kClientError,       // an upstream 4xx about the request itself: relayed as it is
  kClientGone,        // the client hung up
  kShutdown,          // the drain period ended: the gateway cancelled the call
  kConnectFailed,     // refused, unreachable, connect timeout
  kTlsFailed,         // handshake or certificate verification
  kReset,             // reset or EOF before the response completed
  kFirstByteTimeout,  // nothing within timeouts.first_byte
  kIdleTimeout,       // the body stalled longer than timeouts.idle
  kTotalTimeout,      // the attempt's timeouts.total or the request deadline passed
  kRateLimited,       // HTTP 429
  kUpstreamAuth,      // HTTP 401/403: the gateway's credentials
  kUpstream5xx,       // HTTP 5xx other than 503, or 408
  kUpstream503,       // HTTP 503
  kRedirect,          // HTTP 3xx (never followed)
  kUnexpected2xx,     // a plain 2xx other than 200
  kUnusableBody,      // a plain 200 that is not a result (error object, broken, empty)
  kTooLarge,          // a plain body over 64 MiB
  kNotSse,            // a stream request answered 200 without text/event-stream
  kBadFirstEvent,     // the first event is an error object or not JSON
  kEmptyStream,       // a 200 stream that ended without any event
  // After the commit point (the client has the stream): kOk, kClientGone, kShutdown or
  kStreamInterrupted,  // cut, reset, stall, deadline, error or broken event: ends in-band
};

enum class CircuitVerdict {
  kNone,         // no verdict: a half-open probe is handed back
  kSuccess,      // closes a half-open circuit, resets the failure count
  kFailure,      // counts towards opening the circuit
  kRateLimited,  // skip the backend until retry-after passes; not a failure
};

enum class NextStep {
  kDone,           // the client has its answer
  kRetry,          // the same backend may be tried again (retries:), then the next candidate
  kNextCandidate,  // the next candidate, never this backend again
  kStop,           // no further attempt: answer now
};

struct OutcomeRule {
  CircuitVerdict circuit;
  NextStep next;
  int status;  // the client's status if this is the request's last failure
  // The failure list's, fallback reasons' and access log's code (none for kOk). Its
  // "may fall back" column in the error table agrees with `next` (tested).
  std::optional<ErrorCode> code;
};

OutcomeRule RuleFor(Outcome o);

// The outcome's name in the access log's attempt records and docs/resilience.md.
std::string_view OutcomeName(Outcome o);

// A transport failure as an outcome. REQUIRES: e is not kNone or kStopped.
Outcome OutcomeOf(CallError e);

// A non-200 upstream status as an outcome (kClientError for a 4xx about the request).
Outcome OutcomeOfStatus(int status);

}  // namespace signalbox
