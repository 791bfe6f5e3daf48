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

std::string ErrorBody(const ApiError& e) {
  std::string out;
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
