// Fault: one injected failure of signalbox-mock, parsed from a SPEC string such as
// "503", "429:5", "cut:3" or "hang" (the --fault flag and the x-mock-fault header).
//
// Immutable value type. The mock applies a fault in one of three places, which is why
// the kinds are grouped: before any byte is sent (status answers, hang, reset, slow
// first byte), or while shaping the body or stream (cut, stall, error-event,
// malformed, empty-stream). tools/mock/README.md documents every SPEC.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace signalbox::mock {

enum class FaultKind {
  kNone,
  kStatus,         // an error status with the endpoint's error body: 400 401 403 404 500 502
                   // 503 529
  kRateLimit,      // 429 with retry-after
  kRedirect,       // 302 to a dead address
  kHang,           // no byte until the client leaves or the mock stops
  kSlowFirstByte,  // wait, then answer normally
  kReset,          // TCP RST before any byte
  kCut,            // N content chunks, then close without ending the body
  kStall,          // N content chunks, then silence until the client leaves
  kErrorEvent,     // N content chunks, then an in-band SSE error event and a clean end
  kMalformed,      // N content chunks, then an event with broken JSON, then [DONE]
  kEmptyStream,    // 200 SSE that ends without any event
};

struct Fault {
  FaultKind kind = FaultKind::kNone;
  int status = 0;         // kStatus: the HTTP status
  int count = 0;          // kCut, kStall, kErrorEvent, kMalformed: content chunks sent first
  int retry_after_s = 1;  // kRateLimit
  int delay_ms = 0;       // kSlowFirstByte
  std::string spec;       // the SPEC as given (trimmed, lower case); the key in /mock/stats

  bool none() const { return kind == FaultKind::kNone; }
  // True for the kinds that act before the body is read (they ignore the request body).
  bool ActsBeforeBody() const;
};

// Parses a SPEC. "" and "none" give FaultKind::kNone (a header can so cancel --fault).
// Returns InvalidArgument naming the SPEC when it is unknown or its number is bad.
StatusOr<Fault> ParseFault(std::string_view spec);

}  // namespace signalbox::mock
