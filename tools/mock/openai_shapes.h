// OpenAI response shapes written by signalbox-mock: error bodies, chat and legacy
// completions (whole and as stream chunks), embeddings and the model list.
//
// Pure functions of their arguments (no clock, no globals), so the same generation
// renders the same bytes; thread-safe. Output is compact JSON in OpenAI's key order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mock/generation.h"

namespace signalbox::mock {

// {"error":{"message","type","param","code"}}; an empty param or code is written null.
std::string ErrorBody(std::string_view message, std::string_view type, std::string_view param,
                      std::string_view code);

// The non-streaming body: chat.completion or text_completion.
std::string CompletionBody(const Generation& g);

// Stream chunks (the JSON only; the caller frames it as "data: ...\n\n"). When
// `usage_null` is set the chunk carries "usage": null, as OpenAI does on every chunk
// of a stream that asked for stream_options.include_usage.
std::string RoleChunk(const Generation& g, bool usage_null);
// Token i; the last token (i == tokens - 1) carries finish_reason. With tokens == 0,
// i == -1 renders the lone finishing chunk with an empty delta.
std::string ContentChunk(const Generation& g, int i, bool usage_null);
// The extra chunk before [DONE]: "choices": [] and the usage. REQUIRES: g.usage.
std::string UsageChunk(const Generation& g);

// Embeddings. `inputs` are the texts (token arrays already flattened to text).
struct EmbeddingRequest {
  std::vector<std::string> inputs;
  int dimensions = 8;
  bool base64 = false;
};
// A deterministic unit vector per input, derived from a hash of its text.
std::vector<float> EmbeddingVector(std::string_view text, int dimensions);
std::string EmbeddingsBody(const EmbeddingRequest& r, const std::string& model,
                           const std::optional<Usage>& usage);

std::string ModelsBody(const std::string& model);

// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view bytes);

}  // namespace signalbox::mock
