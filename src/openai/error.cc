#include "openai/error.h"

#include <fmt/format.h>

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

}  // namespace

int HttpStatusFor(StatusCode code) { return Lookup(code).http; }
std::string_view ErrorTypeFor(StatusCode code) { return Lookup(code).type; }

ApiError FromStatus(const Status& s, std::string code, std::string param) {
  ApiError e;
  e.status = HttpStatusFor(s.code());
  e.type = std::string(ErrorTypeFor(s.code()));
  e.code = std::move(code);
  e.param = std::move(param);
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

ApiError InvalidRequest(std::string message, std::string param, std::string code) {
  ApiError e;
  e.status = 400;
  e.type = "invalid_request_error";
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

ApiError ModelNotFound(std::string_view model) {
  ApiError e;
  e.status = 404;
  e.type = "invalid_request_error";
  e.code = "model_not_found";
  e.param = "model";
  std::string shown(model.substr(0, 128));
  e.message = fmt::format(
      "The model '{}' does not exist or is not served by this gateway. GET /v1/models lists the "
      "models you can use.",
      shown);
  return e;
}

}  // namespace signalbox
