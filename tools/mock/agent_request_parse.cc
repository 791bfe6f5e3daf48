// Reading Responses and Messages request bodies: validation with each API's error
// wording, the prompt size for the usage estimate, and what a response echoes.
#include <nlohmann/json.hpp>

#include "mock/request_parse.h"

namespace signalbox::mock {
namespace {

using nlohmann::json;

// The JSON type name OpenAI's errors use ("got an integer instead").
std::string TypeName(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a decimal";
  if (v.is_boolean()) return "a boolean";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_null()) return "null";
  return "a string";
}

bool WrongType(ParsedRequest& r, const std::string& param, const char* expected, const json& v) {
  return Fail(r,
              "Invalid type for '" + param + "': expected " + expected + ", but got " +
                  TypeName(v) + " instead.",
              param);
}

// A required string field of an input item; adds its chars to *chars.
bool ItemString(const json& item, const char* field, const std::string& param, int64_t* chars,
                ParsedRequest& r) {
  auto it = item.find(field);
  if (it == item.end()) {
    return Fail(r, "Missing required parameter: '" + param + "." + field + "'.",
                param + "." + field);
  }
  if (!it->is_string()) return WrongType(r, param + "." + field, "a string", *it);
  *chars += CountChars(it->get_ref<const std::string&>());
  return true;
}

// A message's content: a string or an array of content parts.
bool MessageContent(const json& item, const std::string& param, int64_t* chars, ParsedRequest& r) {
  auto content = item.find("content");
  if (content == item.end()) {
    return Fail(r, "Missing required parameter: '" + param + ".content'.", param + ".content");
  }
  if (content->is_string()) {
    *chars += CountChars(content->get_ref<const std::string&>());
    return true;
  }
  if (!content->is_array()) {
    return WrongType(r, param + ".content", "a string or an array of content parts", *content);
  }
  for (size_t j = 0; j < content->size(); ++j) {
    const json& part = (*content)[j];
    std::string p = param + ".content[" + std::to_string(j) + "]";
    if (!part.is_object()) return WrongType(r, p, "an object", part);
    std::string type = part.value("type", "");
    if (type == "input_text" || type == "output_text") {
      if (!ItemString(part, "text", p, chars, r)) return false;
    } else if (type == "refusal") {
      if (!ItemString(part, "refusal", p, chars, r)) return false;
    } else if (type != "input_image" && type != "input_file" && type != "input_audio") {
      return Fail(r,
                  "Invalid value: '" + type + "'. Supported values are: 'input_text', " +
                      "'output_text', 'input_image', 'input_file', 'input_audio' and 'refusal'.",
                  p + ".type");
    }
  }
  return true;
}

bool InputItem(const json& item, const std::string& param, int64_t* chars, ParsedRequest& r) {
  if (!item.is_object()) return WrongType(r, param, "an object", item);
  std::string type = item.value("type", item.contains("role") ? "message" : "");
  if (type == "message") {
    auto role = item.find("role");
    static const char* kRoles[] = {"user", "assistant", "system", "developer"};
    bool known = false;
    for (const char* k : kRoles) known = known || (role != item.end() && *role == k);
    if (!known) {
      return Fail(r,
                  "Invalid value for '" + param + ".role': expected one of 'user', " +
                      "'assistant', 'system' or 'developer'.",
                  param + ".role");
    }
    return MessageContent(item, param, chars, r);
  }
  if (type == "function_call") {
    return ItemString(item, "call_id", param, chars, r) &&
           ItemString(item, "name", param, chars, r) &&
           ItemString(item, "arguments", param, chars, r);
  }
  if (type == "function_call_output") {
    if (!ItemString(item, "call_id", param, chars, r)) return false;
    auto output = item.find("output");
    if (output == item.end()) {
      return Fail(r, "Missing required parameter: '" + param + ".output'.", param + ".output");
    }
    *chars += ContentChars(*output);
    return true;
  }
  // reasoning, item_reference, and the item types agents already send that this list
  // does not know (Codex: additional_tools): accepted, as the API accepts them.
  *chars += static_cast<int64_t>(item.dump().size());
  return true;
}

// An optional field that must be null, a string or (when arrays are allowed) an array.
bool OptionalField(const json& doc, const char* name, bool array_ok, std::string* echo,
                   ParsedRequest& r) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_string() && !(array_ok && it->is_array())) {
    return WrongType(r, name, array_ok ? "a string or an array" : "a string", *it);
  }
  *echo = it->dump();
  return true;
}

bool ParseResponses(std::string_view body, ParsedRequest& r) {
  json doc;
  if (!ParseJsonObject(body, doc, r) || !RequireModel(doc, r) || !ReadStream(doc, r) ||
      !ReadMaxTokens(doc, "max_output_tokens", r)) {
    return false;
  }
  if (r.max_tokens) r.echo.max_output_tokens = std::to_string(*r.max_tokens);
  int64_t chars = 0;
  auto input = doc.find("input");
  if (input == doc.end() || input->is_null()) {
    return Fail(r, "Missing required parameter: 'input'.", "input");
  }
  if (input->is_string()) {
    chars += CountChars(input->get_ref<const std::string&>());
  } else if (input->is_array()) {
    for (size_t i = 0; i < input->size(); ++i) {
      if (!InputItem((*input)[i], "input[" + std::to_string(i) + "]", &chars, r)) return false;
    }
  } else {
    return WrongType(r, "input", "a string or an array of input items", *input);
  }
  if (!OptionalField(doc, "instructions", true, &r.echo.instructions, r) ||
      !OptionalField(doc, "previous_response_id", false, &r.echo.previous_response_id, r)) {
    return false;
  }
  if (auto it = doc.find("instructions"); it != doc.end()) chars += ContentChars(*it);
  if (auto tools = doc.find("tools"); tools != doc.end() && !tools->is_null()) {
    if (!tools->is_array()) return WrongType(r, "tools", "an array", *tools);
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& tool = (*tools)[i];
      if (!tool.is_object() || !tool.contains("type") || !tool["type"].is_string()) {
        std::string p = "tools[" + std::to_string(i) + "].type";
        return Fail(r, "Missing required parameter: '" + p + "'.", p);
      }
    }
    r.echo.tools = tools->dump();
  }
  r.prompt_tokens_estimate = EstimateTokens(chars);
  return true;
}

// Anthropic's wording: "<path>: <problem>", the path dotted with indices.
bool Invalid(ParsedRequest& r, const std::string& path, const std::string& problem) {
  return Fail(r, path + ": " + problem, path);
}

// Chars of an Anthropic content block; false on an invalid block.
bool Block(const json& block, const std::string& path, int64_t* chars, ParsedRequest& r) {
  if (!block.is_object()) return Invalid(r, path, "Input should be a valid dictionary");
  auto type = block.find("type");
  if (type == block.end()) return Invalid(r, path + ".type", "Field required");
  auto field = [&](const char* name, bool (json::*check)() const noexcept, const char* what) {
    auto it = block.find(name);
    if (it == block.end()) return Invalid(r, path + "." + name, "Field required");
    if (!((*it).*check)()) return Invalid(r, path + "." + name, what);
    return true;
  };
  if (*type == "text") {
    if (!field("text", &json::is_string, "Input should be a valid string")) return false;
    *chars += CountChars(block["text"].get_ref<const std::string&>());
  } else if (*type == "tool_use") {
    if (!field("id", &json::is_string, "Input should be a valid string") ||
        !field("name", &json::is_string, "Input should be a valid string") ||
        !field("input", &json::is_object, "Input should be a valid dictionary")) {
      return false;
    }
    *chars +=
        CountChars(block["name"].get_ref<const std::string&>()) + CountChars(block["input"].dump());
  } else if (*type == "tool_result") {
    if (!field("tool_use_id", &json::is_string, "Input should be a valid string")) return false;
    if (auto content = block.find("content"); content != block.end()) {
      *chars += ContentChars(*content);
    }
  } else if (*type == "image" || *type == "document") {
    if (!field("source", &json::is_object, "Input should be a valid dictionary")) return false;
  } else if (*type != "thinking" && *type != "redacted_thinking") {
    return Invalid(r, path + ".type",
                   "Input tag '" + (type->is_string() ? type->get<std::string>() : type->dump()) +
                       "' found using 'type' does not match any of the expected tags: 'text', "
                       "'image', 'document', 'tool_use', 'tool_result', 'thinking', "
                       "'redacted_thinking'");
  }
  return true;
}

// A string or an array of content blocks.
bool Content(const json& content, const std::string& path, int64_t* chars, ParsedRequest& r) {
  if (content.is_string()) {
    *chars += CountChars(content.get_ref<const std::string&>());
    return true;
  }
  if (!content.is_array()) return Invalid(r, path, "Input should be a valid list");
  for (size_t i = 0; i < content.size(); ++i) {
    if (!Block(content[i], path + "." + std::to_string(i), chars, r)) return false;
  }
  return true;
}

bool ParseAnthropic(std::string_view body, ParsedRequest& r, bool need_max_tokens) {
  json doc;
  if (!ParseJsonObject(body, doc, r)) return false;
  auto model = doc.find("model");
  if (model == doc.end()) return Invalid(r, "model", "Field required");
  if (!model->is_string()) return Invalid(r, "model", "Input should be a valid string");
  if (auto max = doc.find("max_tokens"); max != doc.end()) {
    if (!max->is_number_integer() || max->get<int64_t>() < 1) {
      return Invalid(r, "max_tokens", "Input should be a valid integer greater than 0");
    }
    r.max_tokens = max->get<int64_t>();
  } else if (need_max_tokens) {
    return Invalid(r, "max_tokens", "Field required");
  }
  auto messages = doc.find("messages");
  if (messages == doc.end()) return Invalid(r, "messages", "Field required");
  if (!messages->is_array()) return Invalid(r, "messages", "Input should be a valid list");
  if (messages->empty()) return Invalid(r, "messages", "at least one message is required");
  int64_t chars = 0;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    std::string path = "messages." + std::to_string(i);
    if (!m.is_object()) return Invalid(r, path, "Input should be a valid dictionary");
    auto role = m.find("role");
    // Claude Code also sends a "system"-role turn (its environment) in `messages`.
    if (role == m.end() || (*role != "user" && *role != "assistant" && *role != "system")) {
      return Invalid(r, path + ".role", "Input should be 'user', 'assistant' or 'system'");
    }
    auto content = m.find("content");
    if (content == m.end()) return Invalid(r, path + ".content", "Field required");
    if (!Content(*content, path + ".content", &chars, r)) return false;
  }
  if (auto system = doc.find("system"); system != doc.end() && !system->is_null()) {
    if (!Content(*system, "system", &chars, r)) return false;
  }
  if (auto tools = doc.find("tools"); tools != doc.end() && !tools->is_array()) {
    return Invalid(r, "tools", "Input should be a valid list");
  }
  if (auto s = doc.find("stream"); s != doc.end()) {
    if (!s->is_boolean()) return Invalid(r, "stream", "Input should be a valid boolean");
    r.stream = s->get<bool>();
  }
  r.prompt_tokens_estimate = EstimateTokens(chars);
  return true;
}

bool ParseMessages(std::string_view body, ParsedRequest& r) {
  return ParseAnthropic(body, r, true);
}
bool ParseCountTokens(std::string_view body, ParsedRequest& r) {
  return ParseAnthropic(body, r, false);
}

}  // namespace

ParsedRequest ParseResponsesRequest(std::string_view body) {
  return GuardParse(body, ParseResponses);
}
ParsedRequest ParseMessagesRequest(std::string_view body) {
  return GuardParse(body, ParseMessages);
}
ParsedRequest ParseCountTokensRequest(std::string_view body) {
  return GuardParse(body, ParseCountTokens);
}

}  // namespace signalbox::mock
