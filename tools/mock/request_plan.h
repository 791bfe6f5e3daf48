// RequestPlan: how the mock answers one request, from the flags overridden by the
// request's x-mock-* control headers.
//
// One-per-request value. Building it is the only place that reads control headers,
// so every endpoint honours them the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "mock/fault.h"
#include "mock/generation.h"
#include "mock/mock_options.h"

namespace signalbox::mock {

struct RequestPlan {
  Fault fault;
  int tokens = 0;
  int latency_ms = 0;
  int token_interval_ms = 0;
  bool omit_usage = false;
  std::optional<int64_t> prompt_tokens;       // reported instead of the estimate
  std::optional<int64_t> completion_tokens;   // reported instead of the tokens generated
  std::optional<int64_t> cached_tokens;       // reported cached input tokens
  std::optional<int64_t> cache_write_tokens;  // reported cache-creation input tokens
  std::string tool_call;                      // x-mock-tool-call: answer with a call of it

  // The usage to report, or nullopt when usage is omitted.
  std::optional<Usage> MakeUsage(int64_t prompt_estimate, int64_t generated) const;
};

// Returns the header's value, or "" when absent.
using HeaderLookup = std::function<std::string(const char* name)>;

// Applies x-mock-fault, x-mock-tokens, x-mock-latency-ms, x-mock-token-interval-ms,
// x-mock-usage (P,C[,CACHED[,CACHE_WRITE]] or none) and x-mock-tool-call over the
// options. A malformed header value is InvalidArgument naming it.
StatusOr<RequestPlan> MakeRequestPlan(const MockOptions& options, const HeaderLookup& header);

}  // namespace signalbox::mock
