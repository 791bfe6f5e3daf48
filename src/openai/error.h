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

struct ApiError {
  int status = 500;   // HTTP status
  std::string type;   // OpenAI error.type
  std::string code;   // error.code; empty = null
  std::string param;  // error.param; empty = null
  std::string message;
  int retry_after_s = 0;  // > 0: send retry-after
  bool no_retry = false;  // send x-should-retry: false (the gateway already retried)
};

// The table: canonical code -> HTTP status and OpenAI type.
int HttpStatusFor(StatusCode code);
std::string_view ErrorTypeFor(StatusCode code);

// An ApiError from a Status, using the table.
ApiError FromStatus(const Status& s, std::string code = "", std::string param = "");

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

// Shorthands for the common cases.
ApiError InvalidRequest(std::string message, std::string param = "", std::string code = "");
ApiError ModelNotFound(std::string_view model);

}  // namespace signalbox
