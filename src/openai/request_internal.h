// Helpers shared by the request parsers of the APIs the gateway speaks (request.cc for
// chat/completions/embeddings, agent_request.cc for Responses and Messages). Internal to
// openai/: pure functions over a parsed JSON body.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

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
// Refuses fields that would let a client point the gateway at another upstream.
std::optional<ApiError> RejectRoutingOverrides(const nlohmann::json& doc);
// Adds the billed-but-not-text members of `obj` named in `keys` to extra_input_tokens.
void AddMemberTokens(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                     ParsedRequest* out);
// An OpenAI message content (string, array of parts, or null) into classifier parts,
// image counts and extra input tokens.
std::optional<ApiError> ParseContent(const nlohmann::json& content, const std::string& param,
                                     int index, classify::Role role, ParsedRequest* out);

// The agent APIs (agent_request.cc): a Responses body, and a Messages body (count_tokens:
// the /v1/messages/count_tokens form, which has no max_tokens and cannot stream).
std::optional<ApiError> ParseResponsesBody(const nlohmann::json& doc, ParsedRequest* out);
std::optional<ApiError> ParseMessagesBody(const nlohmann::json& doc, bool count_tokens,
                                          ParsedRequest* out);

// Largest accepted max_tokens / max_output_tokens.
inline constexpr int64_t kMaxOutputTokens = 10'000'000;

}  // namespace signalbox::request_internal
