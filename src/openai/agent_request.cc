// Request bodies of the agent APIs: OpenAI Responses (POST /v1/responses) and Anthropic
// Messages (POST /v1/messages and /v1/messages/count_tokens).
//
// The body is forwarded as it is (only `model` is edited in place), so parsing only reads
// what routing and admission need: the texts the classifier weighs (instructions/system,
// every turn, tool results as tool turns), tools and images, the output cap, and every
// other billed input by size. Unknown fields and item types pass: these APIs grow monthly.
#include <fmt/format.h>

#include "openai/request_internal.h"

namespace signalbox::request_internal {
namespace {

using nlohmann::json;

// Tools in a tools array; a `namespace` entry (Codex groups its tools) counts its members.
int CountTools(const json& tools) {
  int n = 0;
  for (const json& t : tools) {
    auto inner = t.is_object() ? t.find("tools") : t.end();
    if (inner != t.end() && inner->is_array() && StringOr(t, "type") == "namespace")
      n += CountTools(*inner);
    else
      ++n;
  }
  return n;
}

// `tools`: an array of objects; sets has_tools and num_tools and bills the schemas.
std::optional<ApiError> ParseTools(const json& doc, ParsedRequest* out) {
  if (auto e = CheckType(doc, "tools", &json::is_array, "an array")) return e;
  auto t = doc.find("tools");
  if (t == doc.end() || !t->is_array()) return std::nullopt;
  for (size_t i = 0; i < t->size(); ++i) {
    if (!(*t)[i].is_object()) return WrongType(fmt::format("tools[{}]", i), "an object", (*t)[i]);
  }
  out->has_tools = out->has_tools || !t->empty();
  out->classify.num_tools += CountTools(*t);
  AddMemberTokens(doc, {"tools", "tool_choice"}, out);
  return std::nullopt;
}

void Finish(ParsedRequest* out) {
  out->classify.has_images = out->has_images;
  out->classify.max_tokens = out->max_tokens;
}

// ---- OpenAI Responses ----

// One item of a Responses `input` array.
std::optional<ApiError> ParseInputItem(const json& item, size_t i, ParsedRequest* out) {
  std::string ip = fmt::format("input[{}]", i);
  if (!item.is_object()) return WrongType(ip, "an object", item);
  int index = static_cast<int>(i);
  std::string type = StringOr(item, "type");
  auto role = item.find("role");
  if (type == "message" || (type.empty() && role != item.end())) {
    if (role == item.end() || !role->is_string()) {
      return InvalidRequest(ErrorCode::kMissingField, fmt::format("'{}.role' is required", ip),
                            ip + ".role");
    }
    classify::Role r = RoleOf(role->get_ref<const std::string&>());
    if (r == classify::Role::kOther || r == classify::Role::kTool) {
      return InvalidRequest(
          ErrorCode::kInvalidValue,
          fmt::format("'{}.role' must be one of user, assistant, system, developer", ip),
          ip + ".role");
    }
    auto content = item.find("content");
    if (content == item.end()) {
      return InvalidRequest(ErrorCode::kMissingField, fmt::format("'{}.content' is required", ip),
                            ip + ".content");
    }
    return ParseContent(*content, ip + ".content", index, r, kOpenAIParts, out);
  }
  if (type.empty()) {
    return InvalidRequest(ErrorCode::kMissingField,
                          fmt::format("'{}.type' is required (or a role)", ip), ip + ".type");
  }
  // A tool's result (function_call_output and the *_call_output items of built-in
  // tools): a tool turn when it is text, else billed by size.
  auto output = item.find("output");
  if (type.size() > 7 && type.compare(type.size() - 7, 7, "_output") == 0 && output != item.end() &&
      output->is_string()) {
    out->classify.parts.push_back(
        {classify::Role::kTool, index, output->get_ref<const std::string&>()});
    return std::nullopt;
  }
  // Codex sends its tool definitions as an input item of type additional_tools.
  if (auto tools = item.find("tools");
      type == "additional_tools" && tools != item.end() && tools->is_array() && !tools->empty()) {
    out->has_tools = true;
    out->classify.num_tools += CountTools(*tools);
  }
  // function_call, reasoning, item_reference and whatever comes next: billed by size.
  out->extra_input_tokens += JsonValueTokens(item);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseResponsesBody(const json& doc, ParsedRequest* out) {
  if (auto e = ParseModelAndStream(doc, /*can_stream=*/true, out)) return e;
  int64_t v = -1;
  if (auto e = CheckInt(doc, "max_output_tokens", 1, kMaxOutputTokens, &v)) return e;
  out->max_tokens = v;
  if (auto e = CheckType(doc, "instructions", &json::is_string, "a string")) return e;
  if (auto e = CheckType(doc, "previous_response_id", &json::is_string, "a string")) return e;
  out->previous_response_id = StringOr(doc, "previous_response_id");
  int messages = 0;
  if (auto ins = doc.find("instructions"); ins != doc.end() && ins->is_string()) {
    out->classify.parts.push_back(
        {classify::Role::kSystem, -1, ins->get_ref<const std::string&>()});
    ++messages;
  }
  auto in = doc.find("input");
  if (in == doc.end() || in->is_null()) {
    if (out->previous_response_id.empty() && messages == 0)
      return InvalidRequest(ErrorCode::kMissingField, "'input' is required", "input");
  } else if (in->is_string()) {
    out->classify.parts.push_back({classify::Role::kUser, 0, in->get_ref<const std::string&>()});
    ++messages;
  } else if (in->is_array()) {
    for (size_t i = 0; i < in->size(); ++i) {
      if (auto e = ParseInputItem((*in)[i], i, out)) return e;
    }
    messages += static_cast<int>(in->size());
  } else {
    return WrongType("input", "a string or an array of input items", *in);
  }
  out->classify.num_messages = messages;
  if (auto e = ParseTools(doc, out)) return e;
  if (auto e = CheckType(doc, "text", &json::is_object, "an object")) return e;
  if (auto t = doc.find("text"); t != doc.end() && t->is_object()) {
    auto f = t->find("format");
    if (f != t->end() && f->is_object()) {
      std::string ft = StringOr(*f, "type");
      out->classify.structured_output = ft == "json_object" || ft == "json_schema";
      out->extra_input_tokens += JsonValueTokens(*f);
    }
  }
  Finish(out);
  return std::nullopt;
}

// ---- Anthropic Messages ----

std::optional<ApiError> ParseMessagesBody(const json& doc, bool count_tokens, ParsedRequest* out) {
  if (auto e = ParseModelAndStream(doc, /*can_stream=*/!count_tokens, out)) return e;
  int64_t v = -1;
  if (auto e = CheckInt(doc, "max_tokens", 1, kMaxOutputTokens, &v)) return e;
  if (v < 0 && !count_tokens)
    return InvalidRequest(ErrorCode::kMissingField, "'max_tokens' is required", "max_tokens");
  out->max_tokens = v;
  if (auto sys = doc.find("system"); sys != doc.end() && !sys->is_null()) {
    if (auto e = ParseContent(*sys, "system", -1, classify::Role::kSystem, kAnthropicBlocks, out))
      return e;
  }
  auto message = [out](const json& m, const std::string& mp, int i) -> std::optional<ApiError> {
    // Claude Code also sends role "system" turns; anything else is refused.
    std::string role = StringOr(m, "role");
    if (role != "user" && role != "assistant" && role != "system") {
      return InvalidRequest(role.empty() ? ErrorCode::kMissingField : ErrorCode::kInvalidValue,
                            fmt::format("'{}.role' must be user or assistant", mp), mp + ".role");
    }
    auto content = m.find("content");
    if (content == m.end()) {
      return InvalidRequest(ErrorCode::kMissingField, fmt::format("'{}.content' is required", mp),
                            mp + ".content");
    }
    classify::Role r = role == "user"        ? classify::Role::kUser
                       : role == "assistant" ? classify::Role::kAssistant
                                             : classify::Role::kSystem;
    return ParseContent(*content, mp + ".content", i, r, kAnthropicBlocks, out);
  };
  if (auto e = ForEachMessage(doc, out, message)) return e;
  if (auto e = ParseTools(doc, out)) return e;
  AddMemberTokens(doc, {"thinking"}, out);
  Finish(out);
  return std::nullopt;
}

}  // namespace signalbox::request_internal
