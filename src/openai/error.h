// The error envelopes of the APIs the gateway speaks, and the one table that maps a
// canonical status code to an HTTP status and an OpenAI `error.type`.
//
// Every error the gateway answers goes through ErrorBody(), in the shape of the API the
// client called:
//   OpenAI (chat, completions, embeddings, responses, admin):
//     {"error": {"message": ..., "type": ..., "param": ...|null, "code": ...|null}}
//   Anthropic (/v1/messages, /v1/messages/count_tokens):
//     {"type": "error", "error": {"type": ..., "message": ...}}  (type from the HTTP status)
// Messages are written for the API user: they never hold secrets, upstream URLs or
// exception texts.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace signalbox {

// Every error the gateway itself answers or records. The one table in error.cc gives
// each its wire code, HTTP status, OpenAI type, whether the SDKs should retry it, and
// whether a candidate that fails with it lets the request move to the next one ("may fall
// back"). docs/resilience.md, "Error codes", is the same table; a test compares them.
enum class ErrorCode {
  // The request itself (400s): never retried, never a fallback.
  kInvalidJson,
  kInvalidHeader,
  kDuplicateKey,
  kUnsupportedParameter,
  kMissingField,
  kInvalidType,
  kInvalidValue,
  kContextLengthExceeded,
  kBadRequest,
  kInvalidLineBreak,
  kInvalidHeaderName,
  kInvalidHost,
  kReservedHeader,
  kInvalidContentLength,
  kInvalidApiKey,
  kModelNotAllowed,
  kModelNotFound,
  kApiNotServed,
  kNotFound,
  kMethodNotAllowed,
  kRequestTimeout,
  kLengthRequired,
  kRequestTooLarge,
  kUriTooLong,
  kUnsupportedContentEncoding,
  kTooManyHeaders,
  kRequestHeaderTooLarge,
  kInvalidConfig,  // POST /admin/reload: the new config was rejected (422)
  // Limits and capacity.
  kRateLimitExceeded,
  kTokensOverLimit,  // one request's estimate exceeds the key's whole tpm
  kBudgetExceeded,
  kOverloaded,
  kTooManyStreams,
  kClusterUnavailable,
  // The upstream chain (a candidate's failure; the all-failed answer).
  kConnectFailed,
  kTlsFailed,
  kConnectionReset,
  kTimeout,
  kRateLimited,
  kCircuitOpen,
  kMaxConcurrency,
  kRetryBudget,
  kUpstreamAuthError,
  kUpstreamError,
  kUpstreamUnavailable,
  kUpstreamTimeout,
  kUpstreamClientError,  // an upstream 4xx, relayed with its own status, type and code
  kStreamInterrupted,
  kShuttingDown,
  kClientGone,
  kInternal,
};
constexpr ErrorCode kLastErrorCode = ErrorCode::kInternal;

struct ErrorSpec {
  std::string_view code;  // error.code on the wire, the access log's `error`
  int http;               // the client's HTTP status
  std::string_view type;  // OpenAI error.type
  bool no_retry;          // send x-should-retry: false (retrying cannot help)
  bool may_fall_back;     // a candidate failing with it: the request moves on
};
const ErrorSpec& SpecOf(ErrorCode c);
inline std::string_view CodeName(ErrorCode c) { return SpecOf(c).code; }

// An error as the client gets it. Made only by MakeError() (or RelayedError() for an
// upstream's own 4xx), so status, type and code always agree with the table.
struct ApiError {
  int status = 500;   // HTTP status
  std::string type;   // OpenAI error.type
  std::string code;   // error.code; empty = null
  std::string param;  // error.param; empty = null
  std::string message;
  int retry_after_s = 0;  // > 0: send retry-after
  bool no_retry = false;  // send x-should-retry: false (the gateway already retried)
};

ApiError MakeError(ErrorCode c, std::string message, std::string param = "", int retry_after_s = 0);
// An upstream's 4xx in the client's shape: its own status, and its type and code when it
// sent them.
ApiError RelayedError(int status, std::string type, std::string code, std::string param,
                      std::string message);

// The table of canonical codes (internal Status) -> HTTP status and OpenAI type, for
// errors that are not the request path's (admin endpoints).
int HttpStatusFor(StatusCode code);
std::string_view ErrorTypeFor(StatusCode code);

// An ApiError from a Status, using the table.
ApiError FromStatus(const Status& s);

enum class ErrorShape { kOpenAI, kAnthropic };

// The shape of the API a request path belongs to: Anthropic's for /v1/messages...
ErrorShape ErrorShapeForPath(std::string_view path);

// Anthropic's error.type for an HTTP status: invalid_request_error (400 and other 4xx),
// authentication_error (401), permission_error (403), not_found_error (404),
// request_too_large (413), rate_limit_error (429), overloaded_error (503, 529),
// api_error (other 5xx).
std::string_view AnthropicErrorType(int status);

// The JSON body of an error.
std::string ErrorBody(const ApiError& e, ErrorShape shape = ErrorShape::kOpenAI);

// Shorthands for the common cases: a 400 about `param`, and an unknown model.
ApiError InvalidRequest(ErrorCode c, std::string message, std::string param = "");
ApiError ModelNotFound(std::string_view model);

}  // namespace signalbox
