#include "openai/request.h"

#include <fmt/format.h>

#include <algorithm>

#include "openai/request_internal.h"

namespace signalbox {
namespace {

using namespace request_internal;
using nlohmann::json;

constexpr int kMaxDepth = 128;

// Rejects absurd nesting before a parser ever sees it.
bool DepthWithin(std::string_view s, int limit) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::optional<ApiError> ParseMessages(const json& doc, ParsedRequest* out) {
  return ForEachMessage(
      doc, out, [out](const json& m, const std::string& mp, int i) -> std::optional<ApiError> {
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) {
          return InvalidRequest(ErrorCode::kMissingField, fmt::format("'{}.role' is required", mp),
                                mp + ".role");
        }
        classify::Role r = RoleOf(role->get_ref<const std::string&>());
        if (r == classify::Role::kOther) {
          return InvalidRequest(ErrorCode::kInvalidValue,
                                fmt::format("'{}.role' must be one of system, developer, user, "
                                            "assistant, tool, function",
                                            mp),
                                mp + ".role");
        }
        AddMemberTokens(m, {"tool_calls", "function_call", "audio", "name"}, out);
        auto content = m.find("content");
        if (content != m.end())
          return ParseContent(*content, mp + ".content", i, r, kOpenAIParts, out);
        if (r == classify::Role::kUser || r == classify::Role::kSystem) {
          return InvalidRequest(ErrorCode::kMissingField,
                                fmt::format("'{}.content' is required", mp), mp + ".content");
        }
        return std::nullopt;
      });
}

std::optional<ApiError> ParseCommon(const json& doc, ParsedRequest* out) {
  if (auto e = ParseModelAndStream(doc, /*can_stream=*/true, out)) return e;
  if (auto so = doc.find("stream_options"); so != doc.end() && !so->is_null()) {
    if (!so->is_object()) return WrongType("stream_options", "an object", *so);
    if (auto e = CheckType(*so, "include_usage", &json::is_boolean, "a boolean")) {
      e->param = "stream_options.include_usage";
      return e;
    }
    out->include_usage = BoolOr(*so, "include_usage", false);
  }
  int64_t v = -1;
  if (auto e = CheckInt(doc, "max_tokens", 1, kMaxOutputTokens, &v)) return e;
  int64_t v2 = -1;
  if (auto e = CheckInt(doc, "max_completion_tokens", 1, kMaxOutputTokens, &v2)) return e;
  out->max_tokens = v2 > 0 ? v2 : v;
  int64_t n = 1;
  if (auto e = CheckInt(doc, "n", 1, 128, &n)) return e;
  out->n = static_cast<int>(n);
  if (auto e = CheckType(doc, "user", &json::is_string, "a string")) return e;
  return std::nullopt;
}

std::optional<ApiError> ParseChat(const json& doc, ParsedRequest* out) {
  if (auto e = ParseMessages(doc, out)) return e;
  if (auto e = CheckType(doc, "tools", &json::is_array, "an array")) return e;
  if (auto e = CheckType(doc, "functions", &json::is_array, "an array")) return e;
  size_t tools = 0;
  if (auto t = doc.find("tools"); t != doc.end() && t->is_array()) {
    for (size_t i = 0; i < t->size(); ++i) {
      if (!(*t)[i].is_object()) return WrongType(fmt::format("tools[{}]", i), "an object", (*t)[i]);
    }
    tools += t->size();
  }
  if (auto f = doc.find("functions"); f != doc.end() && f->is_array()) tools += f->size();
  out->has_tools = tools > 0;
  out->classify.num_tools = static_cast<int>(tools);
  AddMemberTokens(doc, {"tools", "functions", "tool_choice", "response_format"}, out);
  if (auto e = CheckType(doc, "response_format", &json::is_object, "an object")) return e;
  if (auto rf = doc.find("response_format"); rf != doc.end() && rf->is_object()) {
    std::string t = StringOr(*rf, "type");
    out->classify.structured_output = t == "json_object" || t == "json_schema";
  }
  out->classify.has_images = out->has_images;
  out->classify.max_tokens = out->max_tokens;
  return std::nullopt;
}

std::optional<ApiError> ParseCompletions(const json& doc, ParsedRequest* out) {
  auto p = doc.find("prompt");
  if (p == doc.end())
    return InvalidRequest(ErrorCode::kMissingField, "'prompt' is required", "prompt");
  out->classify.num_messages = 1;
  if (p->is_string()) {
    out->classify.parts.push_back({classify::Role::kUser, 0, p->get_ref<const std::string&>()});
  } else if (p->is_array()) {
    for (size_t i = 0; i < p->size(); ++i) {
      const json& e = (*p)[i];
      if (e.is_string()) {
        out->classify.parts.push_back({classify::Role::kUser, 0, e.get_ref<const std::string&>()});
      } else if (e.is_number_integer()) {
        ++out->extra_input_tokens;  // one token id
      } else if (e.is_array()) {
        out->extra_input_tokens += static_cast<int64_t>(e.size());  // one prompt of token ids
      } else {
        return WrongType(fmt::format("prompt[{}]", i), "a string or tokens", e);
      }
    }
  } else {
    return WrongType("prompt", "a string or an array", *p);
  }
  AddMemberTokens(doc, {"suffix"}, out);
  out->classify.max_tokens = out->max_tokens;
  return std::nullopt;
}

std::optional<ApiError> ParseEmbeddings(const json& doc, ParsedRequest* out) {
  auto in = doc.find("input");
  if (in == doc.end())
    return InvalidRequest(ErrorCode::kMissingField, "'input' is required", "input");
  if (in->is_string()) {
    out->embedding_input_chars = static_cast<int64_t>(in->get_ref<const std::string&>().size());
  } else if (in->is_array()) {
    if (in->empty())
      return InvalidRequest(ErrorCode::kInvalidValue, "'input' must not be empty", "input");
    for (const auto& e : *in) {
      if (e.is_string())
        out->embedding_input_chars += static_cast<int64_t>(e.get_ref<const std::string&>().size());
      else if (e.is_number_integer())
        out->embedding_input_chars += 4;
      else if (e.is_array())
        out->embedding_input_chars += 4 * static_cast<int64_t>(e.size());
      else
        return WrongType("input[]", "a string or tokens", e);
    }
  } else {
    return WrongType("input", "a string or an array", *in);
  }
  if (out->stream)
    return InvalidRequest(ErrorCode::kInvalidValue, "embeddings cannot be streamed", "stream");
  return std::nullopt;
}

// The fields of out->doc for out->endpoint.
std::optional<ApiError> ParseFields(ParsedRequest* out) {
  const json& doc = out->doc;
  try {
    switch (out->endpoint) {
      case Endpoint::kResponses:
        return ParseResponsesBody(doc, out);
      case Endpoint::kMessages:
        return ParseMessagesBody(doc, /*count_tokens=*/false, out);
      case Endpoint::kCountTokens:
        return ParseMessagesBody(doc, /*count_tokens=*/true, out);
      default:
        break;
    }
    if (auto e = ParseCommon(doc, out)) return e;
    switch (out->endpoint) {
      case Endpoint::kChat:
        return ParseChat(doc, out);
      case Endpoint::kCompletions:
        return ParseCompletions(doc, out);
      case Endpoint::kEmbeddings:
        return ParseEmbeddings(doc, out);
      default:
        break;
    }
  } catch (const std::exception&) {
    // A type check above missed a case: still a client error, never a 500.
    return InvalidRequest(ErrorCode::kInvalidType, "the body has a field of the wrong type");
  }
  return std::nullopt;
}

}  // namespace

std::string_view EndpointPath(Endpoint e) {
  switch (e) {
    case Endpoint::kChat:
      return "/chat/completions";
    case Endpoint::kCompletions:
      return "/completions";
    case Endpoint::kEmbeddings:
      return "/embeddings";
    case Endpoint::kResponses:
      return "/responses";
    case Endpoint::kMessages:
      return "/messages";
    case Endpoint::kCountTokens:
      return "/messages/count_tokens";
  }
  return "";
}

std::string_view ApiLabel(Endpoint e) {
  switch (e) {
    case Endpoint::kChat:
      return "chat";
    case Endpoint::kCompletions:
      return "completions";
    case Endpoint::kEmbeddings:
      return "embeddings";
    case Endpoint::kResponses:
      return "responses";
    case Endpoint::kMessages:
    case Endpoint::kCountTokens:
      return "messages";
  }
  return "chat";
}

ApiFamily FamilyOf(Endpoint e) {
  switch (e) {
    case Endpoint::kResponses:
      return ApiFamily::kResponses;
    case Endpoint::kMessages:
    case Endpoint::kCountTokens:
      return ApiFamily::kMessages;
    default:
      return ApiFamily::kChat;
  }
}

ErrorShape ShapeOf(Endpoint e) {
  return FamilyOf(e) == ApiFamily::kMessages ? ErrorShape::kAnthropic : ErrorShape::kOpenAI;
}

std::optional<ApiError> ParseRequest(Endpoint endpoint, std::string_view body, ParsedRequest* out) {
  out->endpoint = endpoint;
  if (body.empty())
    return InvalidRequest(ErrorCode::kInvalidJson, "the request body is empty: send a JSON object");
  if (!DepthWithin(body, kMaxDepth)) {
    return InvalidRequest(ErrorCode::kInvalidJson,
                          fmt::format("the JSON body nests deeper than {} levels", kMaxDepth));
  }
  try {
    out->doc = json::parse(body);
  } catch (const json::parse_error& e) {
    return InvalidRequest(ErrorCode::kInvalidJson,
                          fmt::format("the body is not valid JSON (error at byte {})", e.byte));
  } catch (const json::exception&) {
    // out_of_range: a number literal beyond a double (1e400, a 5000-digit integer). The
    // library's message quotes the whole literal: never echo or log it.
    return InvalidRequest(ErrorCode::kInvalidJson,
                          "the body has a number outside the range of a 64-bit float");
  }
  if (!out->doc.is_object())
    return InvalidRequest(ErrorCode::kInvalidJson, "the body must be a JSON object");
  auto scan = ScanJsonObject(body);
  if (!scan) return InvalidRequest(ErrorCode::kInvalidJson, "the body is not valid JSON");
  if (scan->duplicate_keys) {
    return InvalidRequest(ErrorCode::kDuplicateKey,
                          fmt::format("the key '{}' appears twice in the body", scan->duplicate),
                          scan->duplicate);
  }
  out->scan = std::move(*scan);
  return ParseFields(out);
}

std::optional<ApiError> ParseDocument(Endpoint endpoint, nlohmann::json doc, ParsedRequest* out) {
  out->endpoint = endpoint;
  out->doc = std::move(doc);
  if (!out->doc.is_object())
    return InvalidRequest(ErrorCode::kInvalidJson, "the body must be a JSON object");
  return ParseFields(out);
}

std::optional<ApiError> ParseChatDocument(nlohmann::json doc, ParsedRequest* out) {
  return ParseDocument(Endpoint::kChat, std::move(doc), out);
}

Endpoint DetectEndpoint(const nlohmann::json& doc) {
  if (!doc.is_object()) return Endpoint::kChat;
  auto messages = doc.find("messages");
  if (messages == doc.end()) {
    return doc.contains("input") || doc.contains("instructions") ? Endpoint::kResponses
                                                                 : Endpoint::kChat;
  }
  if (doc.contains("system")) return Endpoint::kMessages;
  if (!messages->is_array()) return Endpoint::kChat;
  for (const auto& m : *messages) {
    auto content = m.is_object() ? m.find("content") : m.end();
    if (content == m.end() || !content->is_array()) continue;
    for (const auto& block : *content) {
      if (!block.is_object()) continue;
      auto type = block.find("type");
      if (type == block.end() || !type->is_string()) continue;
      const std::string& t = type->get_ref<const std::string&>();
      if (t == "tool_use" || t == "tool_result" || t == "thinking" || t == "document" ||
          (t == "image" && block.contains("source")))
        return Endpoint::kMessages;
    }
  }
  return Endpoint::kChat;
}

classify::ClassifyInput PromptInput(std::string_view prompt) {
  classify::ClassifyInput in;
  in.num_messages = 1;
  in.parts.push_back({classify::Role::kUser, 0, prompt});
  return in;
}

}  // namespace signalbox
