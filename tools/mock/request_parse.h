// Reading what the mock needs from a request body (OpenAI chat, completions,
// embeddings and Responses; Anthropic Messages): the stream flags, the output cap, the
// prompt size for the usage estimate, the embedding inputs and what Responses echoes.
//
// Pure functions; thread-safe. A body that is not valid JSON, or lacks a required
// field, or has a field of the wrong type, yields `error` (and `error_param`, the
// field's name) for a 400 invalid_request_error answer.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mock/generation.h"
#include "mock/openai_shapes.h"

namespace signalbox::mock {

struct ParsedRequest {
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  std::optional<int64_t> max_tokens;   // max_completion_tokens, else max_tokens
  int64_t prompt_tokens_estimate = 1;  // ceil(chars / 4) of the prompt text, at least 1
  EmbeddingRequest embedding;          // for /embeddings only
  ResponsesEcho echo;                  // for /responses only
  std::string error;                   // non-empty: the request is invalid
  std::string error_param;             // the offending field, if one
};

ParsedRequest ParseChatRequest(std::string_view body);
ParsedRequest ParseCompletionRequest(std::string_view body);
ParsedRequest ParseEmbeddingRequest(std::string_view body);

// The agent APIs (agent_request_parse.cc). Responses: `input` (string or items),
// `instructions`, `max_output_tokens`, `tools`, `previous_response_id`. Messages:
// `max_tokens` (required), `messages` (required), `system`, `tools`; errors name the
// field in Anthropic's way ("max_tokens: Field required"). Count tokens: Messages
// without max_tokens.
ParsedRequest ParseResponsesRequest(std::string_view body);
ParsedRequest ParseMessagesRequest(std::string_view body);
ParsedRequest ParseCountTokensRequest(std::string_view body);

// Building blocks of the parsers above. The bool functions return false after
// recording the error in `r`.
int64_t CountChars(std::string_view utf8);  // Unicode code points
// Chars of a message content: a string, or an array of parts whose `text` counts.
int64_t ContentChars(const nlohmann::json& content);
bool Fail(ParsedRequest& r, std::string message, std::string param);
bool ParseJsonObject(std::string_view body, nlohmann::json& doc, ParsedRequest& r);
bool RequireModel(const nlohmann::json& doc, ParsedRequest& r);  // a string `model`
bool ReadStream(const nlohmann::json& doc, ParsedRequest& r);    // `stream`, a boolean
// A non-negative integer field `name` into r.max_tokens, when present.
bool ReadMaxTokens(const nlohmann::json& doc, const char* name, ParsedRequest& r);
// Runs `parse` on a fresh ParsedRequest, turning a nlohmann exception into an error.
ParsedRequest GuardParse(std::string_view body, bool (*parse)(std::string_view, ParsedRequest&));

}  // namespace signalbox::mock
