// The OpenAI error envelope and the one table that maps a canonical status code to an
// HTTP status and an OpenAI `error.type`.
//
// Every error the gateway answers goes through ErrorBody():
//   {"error": {"message": ..., "type": ..., "param": ...|null, "code": ...|null}}
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

// The JSON body of an error.
std::string ErrorBody(const ApiError& e);

// Shorthands for the common cases.
ApiError InvalidRequest(std::string message, std::string param = "", std::string code = "");
ApiError ModelNotFound(std::string_view model);

}  // namespace signalbox
