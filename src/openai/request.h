// Parsing and validation of request bodies into what routing needs, without losing what
// forwarding needs: OpenAI chat completions, completions, embeddings and Responses, and
// Anthropic Messages (agent_request.cc). openai/ holds the wire formats of every API the
// gateway speaks, Anthropic's included.
//
// A ParsedRequest is one-per-request. Its `classify` views point into `doc`; moving a
// ParsedRequest keeps them valid (nlohmann keeps strings on the heap).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "classify/classifier.h"
#include "config/config.h"
#include "openai/error.h"
#include "openai/json_edit.h"

namespace signalbox {

enum class Endpoint { kChat, kCompletions, kEmbeddings, kResponses, kMessages, kCountTokens };

std::string_view EndpointPath(Endpoint e);  // "/chat/completions", ...
// The `api` label of metrics: chat, completions, embeddings, responses, messages
// (count_tokens counts as messages).
std::string_view ApiLabel(Endpoint e);
// The backends[].api family that serves the endpoint natively.
ApiFamily FamilyOf(Endpoint e);
// The error envelope the endpoint's clients expect.
ErrorShape ShapeOf(Endpoint e);

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kChat;
  nlohmann::json doc;   // the parsed body
  JsonObjectScan scan;  // top-level member offsets in the raw body
  std::string model;    // as requested
  bool stream = false;
  bool include_usage = false;  // the client asked for stream_options.include_usage
  int64_t max_tokens = -1;     // max_completion_tokens ?? max_tokens; -1 if absent
  int n = 1;
  bool has_tools = false;
  bool has_images = false;
  classify::ClassifyInput classify;  // chat and completions only
  // What the upstream bills as input beyond the text parts the classifier reads, so the
  // admission estimate (request cap, budgets, context window) counts every input: tool and
  // function schemas, response_format, assistant tool calls, token-id prompts and
  // non-text parts other than images (audio, files: by size). See BilledExtras below.
  int64_t extra_input_tokens = 0;
  int images = 0;                     // image parts, each estimated at kImageTokens by the router
  int64_t embedding_input_chars = 0;  // embeddings only: total characters of `input`
  std::string previous_response_id;   // Responses: the conversation's previous response
};

// Input tokens of a JSON value the upstream bills but does not read as text (a tool
// schema, an audio part): its JSON size over 4 bytes per token, rounded up. Conservative
// for schemas (a tokenizer packs JSON punctuation), exact enough for budgets. Pure.
int64_t JsonValueTokens(const nlohmann::json& v);

// Parses and validates `body` for `endpoint`. On failure returns the 400 to send, with
// `param` naming the offending field.
std::optional<ApiError> ParseRequest(Endpoint endpoint, std::string_view body, ParsedRequest* out);

// Validates an already-parsed body (the CLI's verbs, /v1/route). `out->scan` stays
// empty: such a request cannot be forwarded.
std::optional<ApiError> ParseDocument(Endpoint endpoint, nlohmann::json doc, ParsedRequest* out);
std::optional<ApiError> ParseChatDocument(nlohmann::json doc, ParsedRequest* out);

// The API a body is written for, when the caller does not say: Responses when it has
// `input` or `instructions` and no `messages`; Anthropic Messages when it has a top-level
// `system` or Anthropic-only content blocks (tool_use, tool_result, thinking, document,
// image with a source); else chat. A body that fits both chat and Messages reads the
// same to the classifier either way.
Endpoint DetectEndpoint(const nlohmann::json& doc);

// Builds a ClassifyInput for a plain prompt (one user message), for the CLI.
classify::ClassifyInput PromptInput(std::string_view prompt);

}  // namespace signalbox
