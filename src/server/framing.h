// Request-head checks of the HTTP front that need no connection state: the framing
// gatekeeper (first failure wins) and the absolute-form target (internal to server/).
// Pure functions; see server/README.md, "Pre-routing gatekeeper".
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>

#include "openai/error.h"

namespace signalbox::server_internal {

struct FramingLimits {
  int max_headers = 100;
  size_t max_path = 256;
  size_t max_body_bytes = 8u << 20;
};

// A Content-Length value: 1-19 decimal digits.
bool ParseContentLength(const std::string& v, uint64_t* out);

// Strips "http://authority" / "https://authority" (any case) from req.path.
void NormalizeTarget(httplib::Request& req);

// The refusal for a request head, or nullopt. `reclaimed`: the connection's thread was
// taken back as the head completed; `bare_line_break`: the head had a bare CR or LF.
std::optional<ApiError> CheckFraming(const httplib::Request& req, const FramingLimits& limits,
                                     bool reclaimed, bool bare_line_break);

}  // namespace signalbox::server_internal
