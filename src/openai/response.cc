#include "openai/response.h"

#include <nlohmann/json.hpp>

namespace switchyard {
namespace {

using nlohmann::json;

std::optional<Usage> ReadUsage(const json& j) {
  auto u = j.find("usage");
  if (u == j.end() || !u->is_object()) return std::nullopt;
  Usage out;
  auto num = [&](const char* a, const char* b) -> int64_t {
    for (const char* k : {a, b}) {
      auto it = u->find(k);
      if (it != u->end() && it->is_number_integer()) return std::max<int64_t>(0, it->get<int64_t>());
    }
    return 0;
  };
  out.prompt_tokens = num("prompt_tokens", "input_tokens");
  out.completion_tokens = num("completion_tokens", "output_tokens");
  return out;
}

int64_t StrLen(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? static_cast<int64_t>(it->get_ref<const std::string&>().size()) : 0;
}

// Sums generated text in choices[] of a chunk (delta) or a body (message / text).
int64_t OutputChars(const json& j) {
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) return 0;
  int64_t n = 0;
  for (const auto& c : *choices) {
    if (!c.is_object()) continue;
    n += StrLen(c, "text");
    for (const char* holder : {"delta", "message"}) {
      auto d = c.find(holder);
      if (d == c.end() || !d->is_object()) continue;
      n += StrLen(*d, "content") + StrLen(*d, "reasoning_content") + StrLen(*d, "refusal");
      auto tc = d->find("tool_calls");
      if (tc != d->end() && tc->is_array()) {
        for (const auto& call : *tc) {
          if (!call.is_object()) continue;
          auto f = call.find("function");
          if (f != call.end() && f->is_object()) n += StrLen(*f, "arguments") + StrLen(*f, "name");
        }
      }
    }
  }
  return n;
}

}  // namespace

ChunkInfo InspectChunk(std::string_view data) {
  ChunkInfo info;
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return info;
  info.parsed = true;
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    info.is_error = true;
    if (e->is_object()) {
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) info.error_message = m->get<std::string>().substr(0, 200);
    }
    return info;
  }
  info.usage = ReadUsage(j);
  auto choices = j.find("choices");
  bool no_choices = choices == j.end() || choices->is_null() || (choices->is_array() && choices->empty());
  info.usage_only = info.usage.has_value() && no_choices;
  info.output_chars = OutputChars(j);
  return info;
}

BodyInfo InspectBody(std::string_view body, bool embeddings) {
  BodyInfo info;
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return info;
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) return info;
  auto result = j.find(embeddings ? "data" : "choices");
  if (result == j.end() || !result->is_array()) return info;
  info.usable = true;
  info.usage = ReadUsage(j);
  info.output_chars = OutputChars(j);
  return info;
}

std::optional<Usage> UsageFromBody(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return ReadUsage(j);
}

int64_t OutputCharsFromBody(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return 0;
  return OutputChars(j);
}

}  // namespace switchyard
