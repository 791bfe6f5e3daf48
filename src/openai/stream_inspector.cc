#include "openai/stream_inspector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_writer.h"

namespace signalbox {
namespace {

using nlohmann::json;

int64_t Clamp(int64_t v) { return std::clamp<int64_t>(v, 0, kMaxReportedTokens); }

// obj[key] as a clamped token count, or nullopt when it is not an integer.
std::optional<int64_t> Count(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  return Clamp(it->get<int64_t>());
}

const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() ? &*it : nullptr;
}

std::string StringOf(const json* v) {
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

int64_t StringLength(const json* v) {
  return v != nullptr && v->is_string()
             ? static_cast<int64_t>(v->get_ref<const std::string&>().size())
             : 0;
}

// The `error.message` of an object with an error member (for logs, bounded).
std::string ErrorMessage(const json& obj) {
  const json* err = Member(obj, "error");
  std::string m = err != nullptr && err->is_object() ? StringOf(Member(*err, "message"))
                                                     : StringOf(Member(obj, "message"));
  return m.substr(0, 200);
}

// Usage of a Responses `response` object: input_tokens includes the cached ones.
std::optional<Usage> ResponsesUsage(const json& response) {
  const json* u = Member(response, "usage");
  if (u == nullptr || !u->is_object()) return std::nullopt;
  Usage out;
  out.prompt_tokens = Count(*u, "input_tokens").value_or(0);
  out.completion_tokens = Count(*u, "output_tokens").value_or(0);
  if (const json* d = Member(*u, "input_tokens_details"); d != nullptr && d->is_object())
    out.cached_tokens = std::min(out.prompt_tokens, Count(*d, "cached_tokens").value_or(0));
  return out;
}

// Generated text in a Responses `output` array (message text, tool-call arguments).
int64_t ResponsesOutputChars(const json& response) {
  const json* output = Member(response, "output");
  if (output == nullptr || !output->is_array()) return 0;
  int64_t n = 0;
  for (const json& item : *output) {
    if (!item.is_object()) continue;
    n += StringLength(Member(item, "arguments"));
    const json* content = Member(item, "content");
    if (content == nullptr || !content->is_array()) continue;
    for (const json& part : *content) {
      if (part.is_object()) n += StringLength(Member(part, "text"));
    }
  }
  return n;
}

// Messages usage: input_tokens excludes cache reads and writes.
void MessagesUsageParts(const json& u, int64_t* input, int64_t* read, int64_t* write,
                        int64_t* output) {
  if (auto v = Count(u, "input_tokens")) *input = *v;
  if (auto v = Count(u, "cache_read_input_tokens")) *read = *v;
  if (auto v = Count(u, "cache_creation_input_tokens")) *write = *v;
  if (auto v = Count(u, "output_tokens")) *output = *v;
}

Usage MessagesUsage(int64_t input, int64_t read, int64_t write, int64_t output) {
  Usage u;
  u.prompt_tokens = Clamp(input + read + write);
  u.cached_tokens = read;
  u.cache_write_tokens = write;
  u.completion_tokens = output;
  return u;
}

// Generated text in a Messages `content` array.
int64_t MessagesOutputChars(const json& content) {
  if (!content.is_array()) return 0;
  int64_t n = 0;
  for (const json& b : content) {
    if (!b.is_object()) continue;
    n += StringLength(Member(b, "text")) + StringLength(Member(b, "thinking"));
    if (const json* in = Member(b, "input"); in != nullptr && !in->is_null())
      n += static_cast<int64_t>(in->dump().size());
  }
  return n;
}

json ParseObject(std::string_view data) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

}  // namespace

bool StreamInspector::requires_terminal() const {
  return endpoint_ == Endpoint::kResponses || endpoint_ == Endpoint::kMessages;
}

EventInfo StreamInspector::Inspect(const SseEvent& e) {
  if (endpoint_ == Endpoint::kMessages) return InspectMessages(e);
  if (endpoint_ == Endpoint::kResponses) return InspectResponses(e);
  EventInfo info;
  if (e.data == "[DONE]") {
    info.kind = EventInfo::Kind::kTerminal;
    return info;
  }
  ChunkInfo c = InspectChunk(e.data);
  if (!c.parsed) {
    info.kind = EventInfo::Kind::kMalformed;
  } else if (c.is_error) {
    info.kind = EventInfo::Kind::kError;
    info.error_message = std::move(c.error_message);
  } else {
    if (c.usage) usage_ = c.usage;
    info.kind = c.usage_only ? EventInfo::Kind::kUsageOnly : EventInfo::Kind::kContent;
    info.output_chars = c.output_chars;
  }
  return info;
}

EventInfo StreamInspector::InspectMessages(const SseEvent& e) {
  EventInfo info;
  json j = ParseObject(e.data);
  if (j.is_null()) {
    info.kind = EventInfo::Kind::kMalformed;
    return info;
  }
  std::string type = StringOf(Member(j, "type"));
  if (type.empty()) type = std::string(e.event);
  if (type == "error") {
    info.kind = EventInfo::Kind::kError;
    info.error_message = ErrorMessage(j);
    return info;
  }
  const json* usage = nullptr;
  if (type == "message_start") {
    if (const json* m = Member(j, "message"); m != nullptr && m->is_object())
      usage = Member(*m, "usage");
  } else if (type == "message_delta") {
    usage = Member(j, "usage");
  } else if (type == "content_block_delta") {
    if (const json* d = Member(j, "delta"); d != nullptr && d->is_object()) {
      info.output_chars = StringLength(Member(*d, "text")) +
                          StringLength(Member(*d, "partial_json")) +
                          StringLength(Member(*d, "thinking"));
    }
  } else if (type == "message_stop") {
    info.kind = EventInfo::Kind::kTerminal;
  }
  if (usage != nullptr && usage->is_object()) {
    MessagesUsageParts(*usage, &input_, &cache_read_, &cache_write_, &output_);
    usage_ = MessagesUsage(input_, cache_read_, cache_write_, output_);
  }
  return info;
}

EventInfo StreamInspector::InspectResponses(const SseEvent& e) {
  EventInfo info;
  json j = ParseObject(e.data);
  if (j.is_null()) {
    info.kind = EventInfo::Kind::kMalformed;
    return info;
  }
  if (auto seq = Count(j, "sequence_number")) last_sequence_ = std::max(last_sequence_, *seq);
  std::string type = StringOf(Member(j, "type"));
  if (type.empty()) type = std::string(e.event);
  const json* response = Member(j, "response");
  if (response != nullptr && response->is_object()) {
    std::string id = StringOf(Member(*response, "id"));
    if (!id.empty()) response_id_ = std::move(id);
    if (auto u = ResponsesUsage(*response)) usage_ = u;
  }
  if (type == "error" || type == "response.failed") {
    info.kind = EventInfo::Kind::kError;
    info.error_message =
        type == "error" || response == nullptr ? ErrorMessage(j) : ErrorMessage(*response);
  } else if (type == "response.completed" || type == "response.incomplete") {
    info.kind = EventInfo::Kind::kTerminal;
  } else if (type.size() > 6 && type.compare(type.size() - 6, 6, ".delta") == 0) {
    info.output_chars = StringLength(Member(j, "delta"));
  }
  return info;
}

std::string StreamInspector::ErrorEvent(std::string_view message, std::string_view code) const {
  std::string body;
  JsonWriter w(body);
  switch (endpoint_) {
    case Endpoint::kMessages:
      w.BeginObject().Field("type", "error").Key("error").BeginObject();
      w.Field("type", "api_error").Field("message", message).EndObject().EndObject();
      return FormatSseEvent("error", body);
    case Endpoint::kResponses:
      w.BeginObject().Field("type", "error").Field("code", code).Field("message", message);
      w.Key("param").Null().Field("sequence_number", last_sequence_ + 1).EndObject();
      return FormatSseEvent("error", body);
    default:
      w.BeginObject().Key("error").BeginObject();
      w.Field("message", message).Field("type", "server_error").Key("param").Null();
      w.Field("code", code).EndObject().EndObject();
      return FormatSseEvent("", body);
  }
}

BodyInfo InspectBodyFor(Endpoint endpoint, std::string_view body) {
  switch (endpoint) {
    case Endpoint::kChat:
    case Endpoint::kCompletions:
    case Endpoint::kEmbeddings:
      return InspectBody(body, endpoint == Endpoint::kEmbeddings);
    default:
      break;
  }
  BodyInfo info;
  json j = ParseObject(body);
  if (j.is_null()) return info;
  const json* err = Member(j, "error");
  if (err != nullptr && !err->is_null()) return info;  // OpenAI error, or Anthropic's
  if (endpoint == Endpoint::kCountTokens) {
    info.usable = Count(j, "input_tokens").has_value();
    return info;
  }
  if (endpoint == Endpoint::kMessages) {
    const json* content = Member(j, "content");
    if (StringOf(Member(j, "type")) != "message" || content == nullptr || !content->is_array())
      return info;
    info.usable = true;
    info.output_chars = MessagesOutputChars(*content);
    if (const json* u = Member(j, "usage"); u != nullptr && u->is_object()) {
      int64_t in = 0, read = 0, write = 0, out = 0;
      MessagesUsageParts(*u, &in, &read, &write, &out);
      info.usage = MessagesUsage(in, read, write, out);
    }
    return info;
  }
  // Responses: a response object with an output array; a failed response is no answer.
  const json* output = Member(j, "output");
  if (output == nullptr || !output->is_array() || StringOf(Member(j, "status")) == "failed")
    return info;
  info.usable = true;
  info.usage = ResponsesUsage(j);
  info.output_chars = ResponsesOutputChars(j);
  info.response_id = StringOf(Member(j, "id"));
  return info;
}

}  // namespace signalbox
