// Generation: one answer of signalbox-mock, whatever API it is rendered in — how many
// deterministic tokens, why it stopped, the usage to report, and for the agent APIs
// (Responses, Messages) whether it is a tool call and what the request asked to echo.
//
// Plain value types and pure functions; thread-safe. The shapes files render a
// Generation as one API's JSON (openai_shapes, responses_shapes, anthropic_shapes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace signalbox::mock {

enum class Api { kChat, kCompletion, kResponses, kMessages };

struct Usage {
  int64_t prompt_tokens = 0;      // Responses: input_tokens; Messages: uncached input_tokens
  int64_t completion_tokens = 0;  // output tokens
  // Set only when the flags or x-mock-usage gave them: chat then writes
  // prompt_tokens_details; Responses and Messages write 0 when absent.
  std::optional<int64_t> cached_tokens;       // cached_tokens / cache_read_input_tokens
  std::optional<int64_t> cache_write_tokens;  // cache_creation_input_tokens (Messages only)
};

// Request fields a Responses answer echoes, as raw JSON.
struct ResponsesEcho {
  std::string instructions = "null";
  std::string max_output_tokens = "null";
  std::string previous_response_id = "null";
  std::string tools = "[]";
};

struct Generation {
  Api api = Api::kChat;
  std::string id;
  uint64_t serial = 0;  // the number in the ids (Responses and Messages derive item ids)
  int64_t created = 0;
  std::string model;
  int tokens = 0;
  std::string finish_reason = "stop";  // "stop", or "length" when max_tokens cut it
  std::optional<Usage> usage;          // absent: the answer reports no usage
  std::string tool_name;               // non-empty: a tool call of this name (agent APIs)
  ResponsesEcho echo;                  // Responses only

  bool truncated() const { return finish_reason == "length"; }
  bool tool_call() const { return !tool_name.empty(); }
};

// Text of token i (0-based): "tok1", then " tok2", " tok3"... so the streamed pieces
// concatenate to the whole text "tok1 tok2 ... tokN".
std::string TokenText(int i);
// "tok1 tok2 ... tokN".
std::string WholeText(int tokens);

// prompt_tokens estimate: ceil(chars / 4), at least 1.
int64_t EstimateTokens(int64_t chars);

// A tool call's arguments: the JSON object {"arg":"tok1 tok2 ... tokN"}, streamed in
// ToolArgumentPieces() pieces (one per token, at least one) that concatenate to it:
// piece 0 opens the object, the last one closes it.
std::string ToolArguments(int tokens);
int ToolArgumentPieces(int tokens);
std::string ToolArgumentPiece(int tokens, int i);

}  // namespace signalbox::mock
