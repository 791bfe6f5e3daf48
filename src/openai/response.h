// Reading what the gateway needs out of upstream responses: token usage, error
// objects, and how much output a streamed chunk carried. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace signalbox {

struct Usage {
  int64_t prompt_tokens = 0;  // every input token, cache reads and writes included
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;       // of prompt_tokens: read from the upstream's prompt cache
  int64_t cache_write_tokens = 0;  // of prompt_tokens: written to it (Anthropic)
};

// Reported token counts are clamped to [0, kMaxReportedTokens]: a broken upstream's
// negative or absurd count must neither credit a budget nor make a cost no ledger accepts.
constexpr int64_t kMaxReportedTokens = 1'000'000'000;

// What one SSE data payload of a chat/completions stream holds.
struct ChunkInfo {
  bool parsed = false;      // the payload is a JSON object
  bool is_error = false;    // it carries an `error` object (in-band error)
  bool usage_only = false;  // the include_usage chunk: `choices` empty or null, usage set
  std::optional<Usage> usage;
  int64_t output_chars = 0;   // characters of generated text (content, tool arguments)
  std::string error_message;  // when is_error, the upstream's message (for logs only)
};

ChunkInfo InspectChunk(std::string_view data);

// What a non-streaming 2xx body holds. `usable` is false when it is not a JSON object,
// carries an `error`, or lacks the result (`choices`, or `data` for embeddings): such a
// 200 is an upstream failure, never an answer to relay.
struct BodyInfo {
  bool usable = false;
  std::optional<Usage> usage;
  int64_t output_chars = 0;
  std::string response_id;  // Responses: the response's id (for previous_response_id affinity)
};
BodyInfo InspectBody(std::string_view body, bool embeddings);

// The `usage` of a non-streaming response body, if any (an explicit zero stays zero).
std::optional<Usage> UsageFromBody(std::string_view body);

// Characters of generated text in a non-streaming body (to estimate output tokens when
// the upstream reports no usage).
int64_t OutputCharsFromBody(std::string_view body);

}  // namespace signalbox
