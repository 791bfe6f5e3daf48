// MockOptions: the command line of signalbox-mock, parsed once in main().
//
// Immutable after parsing; the server reads it from every worker thread. Each field
// is the default that per-request control headers (x-mock-*) may override.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "mock/fault.h"

namespace signalbox::mock {

struct MockOptions {
  std::string host = "127.0.0.1";
  int port = 8001;  // 0 = any free port
  std::string model = "mock-model";
  int latency_ms = 0;                        // delay before the first byte of every answer
  int tokens = 16;                           // completion tokens generated (capped by max_tokens)
  int token_interval_ms = 0;                 // pause between streamed chunks
  std::optional<int64_t> usage_prompt;       // reported prompt_tokens instead of the estimate
  std::optional<int64_t> usage_completion;   // reported completion_tokens instead of the count
  std::optional<int64_t> usage_cached;       // reported cached input tokens (default: none)
  std::optional<int64_t> usage_cache_write;  // reported cache-creation tokens (Messages)
  bool no_usage = false;                     // omit usage from bodies and streams
  Fault fault;                               // applied to every API request
  int threads = 64;                          // HTTP worker threads (one per open connection)
  std::string prefix = "/v1";                // API path prefix, served besides /v1
  std::string api_key;                       // when set, required as Bearer token or api-key
  bool quiet = false;                        // no per-request log line on stderr
  bool help = false;
};

// Parses argv[1..] ("--flag value" or "--flag=value"). An unknown flag, a missing or
// bad value returns InvalidArgument with a message for the user.
StatusOr<MockOptions> ParseMockOptions(const std::vector<std::string>& args);

// The --help text.
const char* MockUsage();

}  // namespace signalbox::mock
