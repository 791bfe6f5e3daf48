#include "mock/request_parse.h"

#include <exception>
#include <nlohmann/json.hpp>

namespace signalbox::mock {
namespace {

using nlohmann::json;

constexpr int kMaxDimensions = 4096;

// Parses the body and checks the fields every OpenAI endpoint shares.
bool ParseCommon(std::string_view body, json& doc, ParsedRequest& r) {
  if (!ParseJsonObject(body, doc, r) || !RequireModel(doc, r) || !ReadStream(doc, r)) return false;
  if (auto so = doc.find("stream_options"); so != doc.end() && so->is_object()) {
    auto iu = so->find("include_usage");
    r.include_usage = iu != so->end() && iu->is_boolean() && iu->get<bool>();
  }
  // max_completion_tokens wins: it is the newer field (it comes second).
  return ReadMaxTokens(doc, "max_tokens", r) && ReadMaxTokens(doc, "max_completion_tokens", r);
}

}  // namespace

int64_t CountChars(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

int64_t ContentChars(const json& content) {
  if (content.is_string()) return CountChars(content.get_ref<const std::string&>());
  int64_t n = 0;
  if (content.is_array()) {
    for (const json& part : content) {
      auto text = part.is_object() ? part.find("text") : part.end();
      if (part.is_object() && text != part.end() && text->is_string()) {
        n += CountChars(text->get_ref<const std::string&>());
      }
    }
  }
  return n;
}

bool Fail(ParsedRequest& r, std::string message, std::string param) {
  r.error = std::move(message);
  r.error_param = std::move(param);
  return false;
}

bool ParseJsonObject(std::string_view body, json& doc, ParsedRequest& r) {
  doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Fail(r, "We could not parse the JSON body of your request.", "");
  if (!doc.is_object()) return Fail(r, "The request body must be a JSON object.", "");
  return true;
}

bool RequireModel(const json& doc, ParsedRequest& r) {
  auto model = doc.find("model");
  if (model == doc.end()) return Fail(r, "you must provide a model parameter", "model");
  if (!model->is_string()) return Fail(r, "'model' must be a string", "model");
  return true;
}

bool ReadStream(const json& doc, ParsedRequest& r) {
  if (auto s = doc.find("stream"); s != doc.end() && !s->is_null()) {
    if (!s->is_boolean()) return Fail(r, "'stream' must be a boolean", "stream");
    r.stream = s->get<bool>();
  }
  return true;
}

bool ReadMaxTokens(const json& doc, const char* name, ParsedRequest& r) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return Fail(r, std::string("'") + name + "' must be a non-negative integer", name);
  }
  r.max_tokens = it->get<int64_t>();
  return true;
}

ParsedRequest GuardParse(std::string_view body, bool (*parse)(std::string_view, ParsedRequest&)) {
  ParsedRequest r;
  try {
    parse(body, r);
  } catch (const std::exception& e) {
    // nlohmann throws only on a type mismatch we did not check: still a bad request.
    Fail(r, std::string("invalid request: ") + e.what(), "");
  }
  return r;
}

namespace {

bool ParseChat(std::string_view body, ParsedRequest& r) {
  json doc;
  if (!ParseCommon(body, doc, r)) return false;
  auto messages = doc.find("messages");
  if (messages == doc.end()) return Fail(r, "Missing required parameter: 'messages'.", "messages");
  if (!messages->is_array() || messages->empty()) {
    return Fail(r, "'messages' must be a non-empty array", "messages");
  }
  int64_t chars = 0;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return Fail(r, param + " must be an object", param);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return Fail(r, "Missing required parameter: '" + param + ".role'.", param + ".role");
    }
    if (auto content = m.find("content"); content != m.end()) chars += ContentChars(*content);
  }
  r.prompt_tokens_estimate = EstimateTokens(chars);
  return true;
}

bool ParseCompletion(std::string_view body, ParsedRequest& r) {
  json doc;
  if (!ParseCommon(body, doc, r)) return false;
  auto prompt = doc.find("prompt");
  if (prompt == doc.end()) return Fail(r, "Missing required parameter: 'prompt'.", "prompt");
  int64_t chars = 0;
  if (prompt->is_string()) {
    chars = CountChars(prompt->get_ref<const std::string&>());
  } else if (prompt->is_array()) {
    for (const json& p : *prompt) {
      // Token arrays count one token per element, so four "chars" each.
      if (p.is_string())
        chars += CountChars(p.get_ref<const std::string&>());
      else if (p.is_number_integer())
        chars += 4;
      else if (p.is_array())
        chars += 4 * static_cast<int64_t>(p.size());
      else
        return Fail(r, "'prompt' must be a string or an array", "prompt");
    }
  } else {
    return Fail(r, "'prompt' must be a string or an array", "prompt");
  }
  r.prompt_tokens_estimate = EstimateTokens(chars);
  return true;
}

bool ParseEmbedding(std::string_view body, ParsedRequest& r) {
  json doc;
  if (!ParseCommon(body, doc, r)) return false;
  auto input = doc.find("input");
  if (input == doc.end()) return Fail(r, "Missing required parameter: 'input'.", "input");
  int64_t chars = 0;
  auto add = [&](const json& item) {
    if (item.is_string()) {
      chars += CountChars(item.get_ref<const std::string&>());
      r.embedding.inputs.push_back(item.get<std::string>());
      return true;
    }
    if (item.is_array() && !item.empty() && item.front().is_number_integer()) {
      chars += 4 * static_cast<int64_t>(item.size());
      r.embedding.inputs.push_back(item.dump());
      return true;
    }
    return false;
  };
  bool ok = add(*input);
  if (!ok && input->is_array() && !input->empty()) {
    ok = true;
    for (const json& item : *input) ok = ok && add(item);
  }
  if (!ok) return Fail(r, "'input' must be a string, a token array or an array of them", "input");
  if (auto d = doc.find("dimensions"); d != doc.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() < 1 || d->get<int64_t>() > kMaxDimensions) {
      return Fail(r, "'dimensions' must be an integer in [1, 4096]", "dimensions");
    }
    r.embedding.dimensions = d->get<int>();
  }
  if (auto f = doc.find("encoding_format"); f != doc.end() && !f->is_null()) {
    if (*f != "float" && *f != "base64") {
      return Fail(r, "'encoding_format' must be 'float' or 'base64'", "encoding_format");
    }
    r.embedding.base64 = *f == "base64";
  }
  r.prompt_tokens_estimate = EstimateTokens(chars);
  return true;
}

}  // namespace

ParsedRequest ParseChatRequest(std::string_view body) { return GuardParse(body, ParseChat); }
ParsedRequest ParseCompletionRequest(std::string_view body) {
  return GuardParse(body, ParseCompletion);
}
ParsedRequest ParseEmbeddingRequest(std::string_view body) {
  return GuardParse(body, ParseEmbedding);
}

}  // namespace signalbox::mock
