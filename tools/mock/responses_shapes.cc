#include "mock/responses_shapes.h"

#include <fmt/format.h>

#include "common/json_writer.h"

namespace signalbox::mock {
namespace {

void WriteUsage(JsonWriter& w, const Usage& u) {
  w.Key("usage").BeginObject().Field("input_tokens", u.prompt_tokens);
  w.Key("input_tokens_details").BeginObject().Field("cached_tokens", u.cached_tokens.value_or(0));
  w.EndObject().Field("output_tokens", u.completion_tokens);
  w.Key("output_tokens_details").BeginObject().Field("reasoning_tokens", int64_t{0}).EndObject();
  w.Field("total_tokens", u.prompt_tokens + u.completion_tokens).EndObject();
}

// The output item; `done` false renders it as output_item.added shows it.
void WriteItem(JsonWriter& w, const Generation& g, bool done) {
  const char* status = !done ? "in_progress" : g.truncated() ? "incomplete" : "completed";
  w.BeginObject();
  if (g.tool_call()) {
    w.Field("type", "function_call").Field("id", ResponsesItemId(g));
    w.Field("call_id", fmt::format("call_mock{:08x}", g.serial)).Field("name", g.tool_name);
    w.Field("arguments", done ? ToolArguments(g.tokens) : "").Field("status", status);
  } else {
    w.Field("type", "message").Field("id", ResponsesItemId(g)).Field("status", status);
    w.Field("role", "assistant").Key("content").BeginArray();
    if (done) {
      w.BeginObject().Field("type", "output_text").Field("text", WholeText(g.tokens));
      w.Key("annotations").BeginArray().EndArray().EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

// Opens an event object: type, then the item coordinates when `item` is set.
void Head(JsonWriter& w, std::string_view type, const Generation* item, bool content_index) {
  w.BeginObject().Field("type", type);
  if (item) w.Field("item_id", ResponsesItemId(*item)).Field("output_index", 0);
  if (content_index) w.Field("content_index", 0);
}

std::string Tail(std::string& out, JsonWriter& w, int64_t seq) {
  w.Field("sequence_number", seq).EndObject();
  return std::move(out);
}

}  // namespace

std::string ResponseId(uint64_t serial) { return fmt::format("resp_mock{:08x}", serial); }

std::string ResponsesItemId(const Generation& g) {
  return fmt::format("{}_mock{:08x}", g.tool_call() ? "fc" : "msg", g.serial);
}

const char* ResponseFinalStatus(const Generation& g) {
  return g.truncated() ? "incomplete" : "completed";
}

std::string ResponseObject(const Generation& g, std::string_view status) {
  const bool finished = status != "in_progress";
  std::string out;
  out.reserve(768 + g.tokens * 8);
  JsonWriter w(out);
  w.BeginObject().Field("id", g.id).Field("object", "response").Field("created_at", g.created);
  w.Field("status", status).Key("error").Null().Key("incomplete_details");
  if (finished && g.truncated()) {
    w.BeginObject().Field("reason", "max_output_tokens").EndObject();
  } else {
    w.Null();
  }
  w.Key("instructions").Raw(g.echo.instructions);
  w.Key("max_output_tokens").Raw(g.echo.max_output_tokens).Field("model", g.model);
  w.Key("output").BeginArray();
  if (finished) WriteItem(w, g, /*done=*/true);
  w.EndArray().Field("parallel_tool_calls", true);
  w.Key("previous_response_id").Raw(g.echo.previous_response_id);
  w.Key("reasoning").BeginObject().Key("effort").Null().Key("summary").Null().EndObject();
  w.Field("store", true).Key("temperature").Raw("1.0");
  w.Key("text").BeginObject().Key("format").BeginObject().Field("type", "text");
  w.EndObject().EndObject();
  w.Field("tool_choice", "auto").Key("tools").Raw(g.echo.tools).Key("top_p").Raw("1.0");
  w.Field("truncation", "disabled");
  if (finished && g.usage) {
    WriteUsage(w, *g.usage);
  } else {
    w.Key("usage").Null();
  }
  w.Key("user").Null().Key("metadata").BeginObject().EndObject().EndObject();
  return out;
}

std::string ResponseLifecycleEvent(const Generation& g, std::string_view type,
                                   std::string_view status, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, type, nullptr, false);
  w.Key("response").Raw(ResponseObject(g, status));
  return Tail(out, w, seq);
}

std::string OutputItemEvent(const Generation& g, bool done, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, done ? "response.output_item.done" : "response.output_item.added", nullptr, false);
  w.Field("output_index", 0).Key("item");
  WriteItem(w, g, done);
  return Tail(out, w, seq);
}

std::string ContentPartEvent(const Generation& g, bool done, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, done ? "response.content_part.done" : "response.content_part.added", &g, true);
  w.Key("part").BeginObject().Field("type", "output_text");
  w.Field("text", done ? WholeText(g.tokens) : "");
  w.Key("annotations").BeginArray().EndArray().EndObject();
  return Tail(out, w, seq);
}

std::string OutputTextDelta(const Generation& g, int i, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, "response.output_text.delta", &g, true);
  w.Field("delta", TokenText(i)).Key("logprobs").BeginArray().EndArray();
  return Tail(out, w, seq);
}

std::string OutputTextDone(const Generation& g, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, "response.output_text.done", &g, true);
  w.Field("text", WholeText(g.tokens)).Key("logprobs").BeginArray().EndArray();
  return Tail(out, w, seq);
}

std::string FunctionArgumentsDelta(const Generation& g, int i, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, "response.function_call_arguments.delta", &g, false);
  w.Field("delta", ToolArgumentPiece(g.tokens, i));
  return Tail(out, w, seq);
}

std::string FunctionArgumentsDone(const Generation& g, int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, "response.function_call_arguments.done", &g, false);
  w.Field("name", g.tool_name).Field("arguments", ToolArguments(g.tokens));
  return Tail(out, w, seq);
}

std::string ResponsesErrorEvent(int64_t seq) {
  std::string out;
  JsonWriter w(out);
  Head(w, "error", nullptr, false);
  w.Field("code", "server_error").Field("message", "mock upstream error").Key("param").Null();
  return Tail(out, w, seq);
}

}  // namespace signalbox::mock
