// Helpers shared by the request parsers of the APIs the gateway speaks (request.cc for
// chat/completions/embeddings, agent_request.cc for Responses and Messages). Internal to
// openai/: pure functions over a parsed JSON body.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openai/request.h"

namespace signalbox::request_internal {

// obj[key] when it is a boolean, else `def` (null and absent alike).
bool BoolOr(const nlohmann::json& obj, const char* key, bool def);
// obj[key] when it is a string, else "".
std::string StringOr(const nlohmann::json& obj, const char* key);
// "a string", "an array", ... for error messages.
const char* TypeName(const nlohmann::json& v);
// 400 invalid_type: `param` must be `want`, not <what it is>.
ApiError WrongType(const std::string& param, const char* want, const nlohmann::json& got);
// A chat role name; kOther when unknown.
classify::Role RoleOf(std::string_view r);
// doc[key], when present and not null, must be an integer in [min, max]; sets *out.
std::optional<ApiError> CheckInt(const nlohmann::json& doc, const char* key, int64_t min,
                                 int64_t max, int64_t* out);
// doc[key], when present and not null, must satisfy `pred`.
std::optional<ApiError> CheckType(const nlohmann::json& doc, const char* key,
                                  bool (nlohmann::json::*pred)() const noexcept, const char* want);
// `model` (a non-empty string), no routing overrides, `stream` (a boolean; refused when
// the endpoint cannot stream), `temperature` and `top_p` (numbers): every API's common head.
std::optional<ApiError> ParseModelAndStream(const nlohmann::json& doc, bool can_stream,
                                            ParsedRequest* out);
// Refuses fields that would let a client point the gateway at another upstream.
std::optional<ApiError> RejectRoutingOverrides(const nlohmann::json& doc);
// Adds the billed-but-not-text members of `obj` named in `keys` to extra_input_tokens.
void AddMemberTokens(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                     ParsedRequest* out);
// How an API names its content parts.
struct PartTypes {
  std::vector<std::string_view> text;   // parts whose `text` is read
  std::vector<std::string_view> image;  // parts counted as images
  std::string_view nested;              // a part whose `content` holds parts: a tool turn
  const char* want;                     // the accepted shapes, for the error message
};
extern const PartTypes kOpenAIParts;      // chat and Responses
extern const PartTypes kAnthropicBlocks;  // Messages (tool_result blocks nest)

// A message content (a string, an array of parts, or null) into classifier parts of
// `role`, image counts and extra input tokens (every other part, by its size).
std::optional<ApiError> ParseContent(const nlohmann::json& content, const std::string& param,
                                     int index, classify::Role role, const PartTypes& types,
                                     ParsedRequest* out);

// Checks `messages` (a non-empty array of objects), sets num_messages and calls
// fn(message, "messages[i]", i) for each; the first error stops.
std::optional<ApiError> ForEachMessage(
    const nlohmann::json& doc, ParsedRequest* out,
    const std::function<std::optional<ApiError>(const nlohmann::json&, const std::string&, int)>&
        fn);

// The agent APIs (agent_request.cc): a Responses body, and a Messages body (count_tokens:
// the /v1/messages/count_tokens form, which has no max_tokens and cannot stream).
std::optional<ApiError> ParseResponsesBody(const nlohmann::json& doc, ParsedRequest* out);
std::optional<ApiError> ParseMessagesBody(const nlohmann::json& doc, bool count_tokens,
                                          ParsedRequest* out);

// Largest accepted max_tokens / max_output_tokens.
inline constexpr int64_t kMaxOutputTokens = 10'000'000;

}  // namespace signalbox::request_internal
