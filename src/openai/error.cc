#include "openai/error.h"

#include <fmt/format.h>

#include <iterator>

#include "common/json_writer.h"

namespace signalbox {
namespace {

struct Row {
  StatusCode code;
  int http;
  std::string_view type;
};

// Canonical code -> HTTP status and OpenAI error.type. The OpenAI SDKs pick their
// exception class from the HTTP status and retry 408/409/429/5xx by default.
constexpr Row kTable[] = {
    {StatusCode::kInvalidArgument, 400, "invalid_request_error"},
    {StatusCode::kUnauthenticated, 401, "authentication_error"},
    {StatusCode::kPermissionDenied, 403, "permission_error"},
    {StatusCode::kNotFound, 404, "invalid_request_error"},
    {StatusCode::kResourceExhausted, 429, "rate_limit_error"},
    {StatusCode::kFailedPrecondition, 400, "invalid_request_error"},
    {StatusCode::kUnavailable, 503, "server_error"},
    {StatusCode::kDeadlineExceeded, 504, "server_error"},
    {StatusCode::kCancelled, 499, "server_error"},
    {StatusCode::kInternal, 500, "server_error"},
    {StatusCode::kOk, 200, ""},
};

const Row& Lookup(StatusCode code) {
  for (const auto& r : kTable) {
    if (r.code == code) return r;
  }
  return kTable[9];  // internal
}

// docs/resilience.md, "Error codes". Columns: code, HTTP, OpenAI type, x-should-retry:
// false, may fall back.
struct CodeRow {
  ErrorCode c;
  ErrorSpec spec;
};
constexpr std::string_view kInvalid = "invalid_request_error";
constexpr std::string_view kServer = "server_error";
constexpr CodeRow kCodes[] = {
    {ErrorCode::kInvalidJson, {"invalid_json", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidHeader, {"invalid_header", 400, kInvalid, false, false}},
    {ErrorCode::kDuplicateKey, {"duplicate_key", 400, kInvalid, false, false}},
    {ErrorCode::kUnsupportedParameter, {"unsupported_parameter", 400, kInvalid, false, false}},
    {ErrorCode::kMissingField, {"missing_field", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidType, {"invalid_type", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidValue, {"invalid_value", 400, kInvalid, false, false}},
    {ErrorCode::kContextLengthExceeded, {"context_length_exceeded", 400, kInvalid, false, false}},
    {ErrorCode::kBadRequest, {"bad_request", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidLineBreak, {"invalid_line_break", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidHeaderName, {"invalid_header_name", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidHost, {"invalid_host", 400, kInvalid, false, false}},
    {ErrorCode::kReservedHeader, {"reserved_header", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidContentLength, {"invalid_content_length", 400, kInvalid, false, false}},
    {ErrorCode::kInvalidApiKey, {"invalid_api_key", 401, "authentication_error", false, false}},
    {ErrorCode::kModelNotAllowed, {"model_not_allowed", 403, "permission_error", false, false}},
    {ErrorCode::kModelNotFound, {"model_not_found", 404, kInvalid, false, false}},
    {ErrorCode::kApiNotServed, {"api_not_served", 404, kInvalid, false, false}},
    {ErrorCode::kNotFound, {"not_found", 404, kInvalid, false, false}},
    {ErrorCode::kMethodNotAllowed, {"method_not_allowed", 405, kInvalid, false, false}},
    {ErrorCode::kRequestTimeout, {"request_timeout", 408, kInvalid, false, false}},
    {ErrorCode::kLengthRequired, {"length_required", 411, kInvalid, false, false}},
    {ErrorCode::kRequestTooLarge, {"request_too_large", 413, kInvalid, false, false}},
    {ErrorCode::kUriTooLong, {"uri_too_long", 414, kInvalid, false, false}},
    {ErrorCode::kUnsupportedContentEncoding,
     {"unsupported_content_encoding", 415, kInvalid, false, false}},
    {ErrorCode::kTooManyHeaders, {"too_many_headers", 431, kInvalid, false, false}},
    {ErrorCode::kRequestHeaderTooLarge, {"request_header_too_large", 431, kInvalid, false, false}},
    {ErrorCode::kInvalidConfig, {"invalid_config", 422, kInvalid, false, false}},
    {ErrorCode::kRateLimitExceeded, {"rate_limit_exceeded", 429, "rate_limit_error", false, false}},
    {ErrorCode::kTokensOverLimit, {"request_too_large", 429, "rate_limit_error", true, false}},
    {ErrorCode::kBudgetExceeded, {"budget_exceeded", 429, "insufficient_quota", true, true}},
    {ErrorCode::kOverloaded, {"overloaded", 503, kServer, false, false}},
    {ErrorCode::kTooManyStreams, {"too_many_streams", 503, kServer, false, false}},
    {ErrorCode::kClusterUnavailable, {"cluster_unavailable", 503, kServer, false, false}},
    {ErrorCode::kConnectFailed, {"connect_failed", 503, kServer, true, true}},
    {ErrorCode::kTlsFailed, {"tls_failed", 502, kServer, true, true}},
    {ErrorCode::kConnectionReset, {"connection_reset", 502, kServer, true, true}},
    {ErrorCode::kTimeout, {"timeout", 504, kServer, true, true}},
    {ErrorCode::kRateLimited, {"rate_limited", 429, "rate_limit_error", false, true}},
    {ErrorCode::kCircuitOpen, {"circuit_open", 503, kServer, true, true}},
    {ErrorCode::kMaxConcurrency, {"max_concurrency", 503, kServer, true, true}},
    {ErrorCode::kRetryBudget, {"retry_budget", 503, kServer, true, false}},
    {ErrorCode::kUpstreamAuthError, {"upstream_auth_error", 502, kServer, true, true}},
    {ErrorCode::kUpstreamError, {"upstream_error", 502, kServer, true, true}},
    {ErrorCode::kUpstreamUnavailable, {"upstream_unavailable", 503, kServer, true, false}},
    {ErrorCode::kUpstreamTimeout, {"upstream_timeout", 504, kServer, true, false}},
    {ErrorCode::kUpstreamClientError, {"upstream_client_error", 400, kInvalid, false, false}},
    {ErrorCode::kStreamInterrupted, {"upstream_stream_interrupted", 200, kServer, false, false}},
    {ErrorCode::kShuttingDown, {"shutting_down", 503, kServer, false, false}},
    {ErrorCode::kClientGone, {"client_gone", 499, kServer, false, false}},
    {ErrorCode::kInternal, {"internal_error", 500, kServer, false, false}},
};
static_assert(std::size(kCodes) == static_cast<size_t>(kLastErrorCode) + 1);

}  // namespace

int HttpStatusFor(StatusCode code) { return Lookup(code).http; }
std::string_view ErrorTypeFor(StatusCode code) { return Lookup(code).type; }

const ErrorSpec& SpecOf(ErrorCode c) {
  for (const CodeRow& r : kCodes) {
    if (r.c == c) return r.spec;
  }
  return kCodes[std::size(kCodes) - 1].spec;  // unreachable: every code has a row (tested)
}

ApiError MakeError(ErrorCode c, std::string message, std::string param, int retry_after_s) {
  const ErrorSpec& s = SpecOf(c);
  ApiError e;
  e.status = s.http;
  e.type = std::string(s.type);
  e.code = std::string(s.code);
  e.param = std::move(param);
  e.message = std::move(message);
  e.retry_after_s = retry_after_s;
  e.no_retry = s.no_retry;
  return e;
}

ApiError RelayedError(int status, std::string type, std::string code, std::string param,
                      std::string message) {
  ApiError e = MakeError(ErrorCode::kUpstreamClientError, std::move(message), std::move(param));
  e.status = status;
  if (!type.empty()) e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

ApiError FromStatus(const Status& s) {
  ApiError e;
  e.status = HttpStatusFor(s.code());
  e.type = std::string(ErrorTypeFor(s.code()));
  e.message = s.message();
  return e;
}

ErrorShape ErrorShapeForPath(std::string_view path) {
  constexpr std::string_view kMessages = "/v1/messages";
  bool messages = path.substr(0, kMessages.size()) == kMessages &&
                  (path.size() == kMessages.size() || path[kMessages.size()] == '/');
  return messages ? ErrorShape::kAnthropic : ErrorShape::kOpenAI;
}

std::string_view AnthropicErrorType(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string ErrorBody(const ApiError& e, ErrorShape shape) {
  std::string out;
  if (shape == ErrorShape::kAnthropic) {
    out.reserve(64 + e.message.size());
    JsonWriter w(out);
    w.BeginObject().Field("type", "error").Key("error").BeginObject();
    w.Field("type", AnthropicErrorType(e.status)).Field("message", e.message);
    w.EndObject().EndObject();
    return out;
  }
  out.reserve(96 + e.message.size());
  JsonWriter w(out);
  w.BeginObject().Key("error").BeginObject();
  w.Field("message", e.message).Field("type", e.type);
  w.Key("param");
  if (e.param.empty())
    w.Null();
  else
    w.String(e.param);
  w.Key("code");
  if (e.code.empty())
    w.Null();
  else
    w.String(e.code);
  w.EndObject().EndObject();
  return out;
}

ApiError InvalidRequest(ErrorCode c, std::string message, std::string param) {
  return MakeError(c, std::move(message), std::move(param));
}

ApiError ModelNotFound(std::string_view model) {
  return MakeError(ErrorCode::kModelNotFound,
                   fmt::format("The model '{}' does not exist or is not served by this gateway. "
                               "GET /v1/models lists the models you can use.",
                               model.substr(0, 128)),
                   "model");
}

}  // namespace signalbox
