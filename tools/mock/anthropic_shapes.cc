#include "mock/anthropic_shapes.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/json_writer.h"
#include "openai/error.h"

namespace signalbox::mock {
namespace {

// The usage object; `output_tokens` replaces the generation's (message_start sends 1).
void WriteUsage(JsonWriter& w, const Generation& g, int64_t output_tokens) {
  const Usage u = g.usage.value_or(Usage{});
  w.Key("usage").BeginObject().Field("input_tokens", u.prompt_tokens);
  w.Field("cache_creation_input_tokens", u.cache_write_tokens.value_or(0));
  w.Field("cache_read_input_tokens", u.cached_tokens.value_or(0));
  w.Field("output_tokens", output_tokens).EndObject();
}

int64_t OutputTokens(const Generation& g) { return g.usage ? g.usage->completion_tokens : 0; }

// The content block; `started` renders it as content_block_start shows it (empty).
void WriteBlock(JsonWriter& w, const Generation& g, bool started) {
  w.BeginObject();
  if (g.tool_call()) {
    w.Field("type", "tool_use").Field("id", fmt::format("toolu_mock{:08x}", g.serial));
    w.Field("name", g.tool_name).Key("input").Raw(started ? "{}" : ToolArguments(g.tokens));
  } else {
    w.Field("type", "text").Field("text", started ? "" : WholeText(g.tokens));
  }
  w.EndObject();
}

// The message; `started` renders it as message_start shows it.
std::string Message(const Generation& g, bool started) {
  std::string out;
  out.reserve(384 + g.tokens * 8);
  JsonWriter w(out);
  w.BeginObject().Field("id", g.id).Field("type", "message").Field("role", "assistant");
  w.Field("model", g.model).Key("content").BeginArray();
  if (!started) WriteBlock(w, g, /*started=*/false);
  w.EndArray().Key("stop_reason");
  started ? w.Null() : w.String(StopReason(g));
  w.Key("stop_sequence").Null();
  WriteUsage(w, g, started ? std::min<int64_t>(1, OutputTokens(g)) : OutputTokens(g));
  w.EndObject();
  return out;
}

}  // namespace

std::string_view AnthropicErrorType(int status) {
  // Anthropic's own mapping, which the gateway's shares (openai/error.h), except that the
  // API has no 503 of its own: an upstream 503 is an api_error (overloaded is 529).
  return status == 503 ? "api_error" : signalbox::AnthropicErrorType(status);
}

std::string AnthropicErrorBody(std::string_view type, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("type", "error").Key("error").BeginObject();
  w.Field("type", type).Field("message", message).EndObject().EndObject();
  return out;
}

std::string MessageId(uint64_t serial) { return fmt::format("msg_mock{:08x}", serial); }

const char* StopReason(const Generation& g) {
  return g.truncated() ? "max_tokens" : g.tool_call() ? "tool_use" : "end_turn";
}

std::string MessageBody(const Generation& g) { return Message(g, /*started=*/false); }

std::string CountTokensBody(int64_t input_tokens) {
  return fmt::format(R"({{"input_tokens":{}}})", input_tokens);
}

std::string MessageStartEvent(const Generation& g) {
  return R"({"type":"message_start","message":)" + Message(g, /*started=*/true) + "}";
}

std::string ContentBlockStartEvent(const Generation& g) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("type", "content_block_start").Field("index", 0).Key("content_block");
  WriteBlock(w, g, /*started=*/true);
  w.EndObject();
  return out;
}

std::string PingEvent() { return R"({"type":"ping"})"; }

std::string ContentBlockDeltaEvent(const Generation& g, int i) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("type", "content_block_delta").Field("index", 0);
  w.Key("delta").BeginObject();
  if (g.tool_call()) {
    w.Field("type", "input_json_delta").Field("partial_json", ToolArgumentPiece(g.tokens, i));
  } else {
    w.Field("type", "text_delta").Field("text", TokenText(i));
  }
  w.EndObject().EndObject();
  return out;
}

std::string ContentBlockStopEvent() { return R"({"type":"content_block_stop","index":0})"; }

std::string MessageDeltaEvent(const Generation& g) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("type", "message_delta").Key("delta").BeginObject();
  w.Field("stop_reason", StopReason(g)).Key("stop_sequence").Null().EndObject();
  w.Key("usage").BeginObject().Field("output_tokens", OutputTokens(g)).EndObject().EndObject();
  return out;
}

std::string MessageStopEvent() { return R"({"type":"message_stop"})"; }

}  // namespace signalbox::mock
