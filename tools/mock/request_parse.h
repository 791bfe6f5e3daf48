// Reading what the mock needs from an OpenAI request body: the stream flags, the
// output cap, the prompt size for the usage estimate, and the embedding inputs.
//
// Pure functions; thread-safe. A body that is not valid JSON, or lacks a required
// field, or has a field of the wrong type, yields `error` (and `error_param`, the
// field's name) for a 400 invalid_request_error answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mock/openai_shapes.h"

namespace signalbox::mock {

struct ParsedRequest {
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  std::optional<int64_t> max_tokens;   // max_completion_tokens, else max_tokens
  int64_t prompt_tokens_estimate = 1;  // ceil(chars / 4) of the prompt text, at least 1
  EmbeddingRequest embedding;          // for /embeddings only
  std::string error;                   // non-empty: the request is invalid
  std::string error_param;             // the offending field, if one
};

ParsedRequest ParseChatRequest(std::string_view body);
ParsedRequest ParseCompletionRequest(std::string_view body);
ParsedRequest ParseEmbeddingRequest(std::string_view body);

}  // namespace signalbox::mock
