// The helpers of request_internal.h: type checks and the content and message walkers
// shared by the parsers of every API.
#include "openai/request_internal.h"

#include <fmt/format.h>

#include <algorithm>

namespace signalbox {
namespace request_internal {

using nlohmann::json;

// obj[key] when it is a boolean, else `def` (null and absent alike).
bool BoolOr(const json& obj, const char* key, bool def) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : def;
}

std::string StringOr(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "invalid";
    default:
      return "a number";
  }
}

ApiError WrongType(const std::string& param, const char* want, const json& got) {
  return InvalidRequest(ErrorCode::kInvalidType,
                        fmt::format("'{}' must be {}, not {}", param, want, TypeName(got)), param);
}

classify::Role RoleOf(std::string_view r) {
  if (r == "user") return classify::Role::kUser;
  if (r == "assistant") return classify::Role::kAssistant;
  if (r == "system" || r == "developer") return classify::Role::kSystem;
  if (r == "tool" || r == "function") return classify::Role::kTool;
  return classify::Role::kOther;
}

std::optional<ApiError> CheckInt(const json& doc, const char* key, int64_t min, int64_t max,
                                 int64_t* out) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return WrongType(key, "an integer", *it);
  int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return InvalidRequest(ErrorCode::kInvalidValue,
                          fmt::format("'{}' must be between {} and {}", key, min, max), key);
  }
  *out = v;
  return std::nullopt;
}

std::optional<ApiError> CheckType(const json& doc, const char* key,
                                  bool (json::*pred)() const noexcept, const char* want) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!((*it).*pred)()) return WrongType(key, want, *it);
  return std::nullopt;
}

// Fields that would let a client point the gateway (and its upstream keys) elsewhere.
// The gateway never reads them; refusing them says so plainly.
std::optional<ApiError> RejectRoutingOverrides(const json& doc) {
  for (const char* k : {"api_base", "base_url", "api_key", "user_config", "extra_headers"}) {
    if (doc.contains(k)) {
      return InvalidRequest(
          ErrorCode::kUnsupportedParameter,
          fmt::format("'{}' is not supported: the gateway chooses the upstream and its credentials",
                      k),
          k);
    }
  }
  return std::nullopt;
}

// Adds the billed-but-not-text members of `obj` named in `keys`.
void AddMemberTokens(const json& obj, std::initializer_list<const char*> keys, ParsedRequest* out) {
  for (const char* k : keys) {
    auto it = obj.find(k);
    if (it != obj.end() && !it->is_null()) out->extra_input_tokens += JsonValueTokens(*it);
  }
}

const PartTypes kOpenAIParts = {{"text", "input_text", "output_text"},
                                {"image_url", "input_image"},
                                "",
                                "a string, an array of parts or null"};
const PartTypes kAnthropicBlocks = {
    {"text"}, {"image"}, "tool_result", "a string or an array of content blocks"};

std::optional<ApiError> ParseContent(const json& content, const std::string& param, int index,
                                     classify::Role role, const PartTypes& types,
                                     ParsedRequest* out) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    out->classify.parts.push_back({role, index, content.get_ref<const std::string&>()});
    return std::nullopt;
  }
  if (!content.is_array()) return WrongType(param, types.want, content);
  auto is = [](const std::vector<std::string_view>& names, const std::string& t) {
    return std::find(names.begin(), names.end(), t) != names.end();
  };
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    std::string pp = fmt::format("{}[{}]", param, j);
    if (!part.is_object()) return WrongType(pp, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return InvalidRequest(ErrorCode::kMissingField, fmt::format("'{}.type' is required", pp),
                            pp + ".type");
    }
    const std::string& t = type->get_ref<const std::string&>();
    if (is(types.text, t)) {
      auto text = part.find("text");
      if (text == part.end() || !text->is_string()) {
        return InvalidRequest(ErrorCode::kInvalidType,
                              fmt::format("'{}.text' must be a string", pp), pp + ".text");
      }
      out->classify.parts.push_back({role, index, text->get_ref<const std::string&>()});
    } else if (is(types.image, t)) {
      out->has_images = true;
      ++out->images;
    } else if (!types.nested.empty() && t == types.nested) {
      // A tool's result holding parts of its own: read as a tool turn.
      auto c = part.find("content");
      if (c != part.end()) {
        if (auto e = ParseContent(*c, pp + ".content", index, classify::Role::kTool, types, out))
          return e;
      }
    } else {
      // input_audio, file, refusal, tool_use, thinking and whatever comes next: billed, so
      // counted by size.
      out->extra_input_tokens += JsonValueTokens(part);
    }
  }
  return std::nullopt;
}

std::optional<ApiError> ForEachMessage(
    const json& doc, ParsedRequest* out,
    const std::function<std::optional<ApiError>(const json&, const std::string&, int)>& fn) {
  auto it = doc.find("messages");
  if (it == doc.end())
    return InvalidRequest(ErrorCode::kMissingField, "'messages' is required", "messages");
  if (!it->is_array()) return WrongType("messages", "an array", *it);
  if (it->empty())
    return InvalidRequest(ErrorCode::kInvalidValue, "'messages' must not be empty", "messages");
  out->classify.num_messages = static_cast<int>(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    std::string mp = fmt::format("messages[{}]", i);
    if (!m.is_object()) return WrongType(mp, "an object", m);
    if (auto e = fn(m, mp, static_cast<int>(i))) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> ParseModelAndStream(const json& doc, bool can_stream, ParsedRequest* out) {
  auto model = doc.find("model");
  if (model == doc.end())
    return InvalidRequest(ErrorCode::kMissingField, "'model' is required", "model");
  if (!model->is_string()) return WrongType("model", "a string", *model);
  out->model = model->get<std::string>();
  if (out->model.empty())
    return InvalidRequest(ErrorCode::kInvalidValue, "'model' must not be empty", "model");
  if (auto e = RejectRoutingOverrides(doc)) return e;
  if (auto e = CheckType(doc, "stream", &json::is_boolean, "a boolean")) return e;
  out->stream = BoolOr(doc, "stream", false);
  if (out->stream && !can_stream)
    return InvalidRequest(ErrorCode::kInvalidValue, "this endpoint cannot stream", "stream");
  if (auto e = CheckType(doc, "temperature", &json::is_number, "a number")) return e;
  if (auto e = CheckType(doc, "top_p", &json::is_number, "a number")) return e;
  return std::nullopt;
}

}  // namespace request_internal

}  // namespace signalbox
