// AttemptRecord: one row of the spend ledger.
#pragma once

#include <cstdint>
#include <string>

namespace signalbox::budget {

// One upstream attempt of one request: what it cost and how it ended.
struct AttemptRecord {
  int64_t ts_ms = 0;       // wall clock, ms since the Unix epoch (UTC); selects the window
  std::string request_id;  // unique per request: the gateway writes <x-request-id>@<call id>
  int attempt = 1;         // 1-based: 2 is the first retry or fallback
  std::string key_id;      // the gateway key's id; "anonymous" without keys
  std::string backend;     // backend name
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;     // stored as given; sums use it rounded to nano-dollars
  bool estimated = false;  // tokens counted by the gateway: the upstream sent no usage
  std::string outcome;     // short text: ok, error, cancelled, timeout, ...

  bool operator==(const AttemptRecord&) const = default;
};

}  // namespace signalbox::budget
