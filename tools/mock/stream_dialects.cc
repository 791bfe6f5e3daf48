// The three StreamDialects: OpenAI chat/completion chunks, Responses events and
// Messages events, each built from its shapes file.
#include "mock/anthropic_shapes.h"
#include "mock/openai_shapes.h"
#include "mock/responses_shapes.h"
#include "mock/stream_dialect.h"

namespace signalbox::mock {
namespace {

class OpenAiDialect : public StreamDialect {
 public:
  OpenAiDialect(Generation g, bool include_usage)
      : g_(std::move(g)),
        include_usage_(include_usage),
        usage_null_(include_usage && g_.usage.has_value()) {}

  int ContentCount() const override { return g_.tokens; }
  std::vector<SseEvent> Opening() override {
    if (g_.api != Api::kChat) return {};
    return {{"", RoleChunk(g_, usage_null_)}};
  }
  SseEvent Content(int i) override { return {"", ContentChunk(g_, i, usage_null_)}; }
  std::vector<SseEvent> Closing() override {
    std::vector<SseEvent> out;
    // A chat answer of zero tokens still needs a chunk with its finish_reason.
    if (g_.tokens == 0 && g_.api == Api::kChat)
      out.push_back({"", ContentChunk(g_, -1, usage_null_)});
    if (include_usage_ && g_.usage) out.push_back({"", UsageChunk(g_)});
    out.push_back({"", "[DONE]"});
    return out;
  }
  SseEvent ErrorEvent() override {
    return {"", ErrorBody("mock upstream error", "server_error", "", "mock_error")};
  }
  std::vector<SseEvent> Malformed() override {
    return {{"", R"({"id":"broken","object":"chat.completion.chunk","choices":[{)"},
            {"", "[DONE]"}};
  }

 private:
  Generation g_;
  bool include_usage_;
  bool usage_null_;
};

class ResponsesDialect : public StreamDialect {
 public:
  explicit ResponsesDialect(Generation g) : g_(std::move(g)) {}

  int ContentCount() const override {
    return g_.tool_call() ? ToolArgumentPieces(g_.tokens) : g_.tokens;
  }
  std::vector<SseEvent> Opening() override {
    std::vector<SseEvent> out;
    out.push_back(Lifecycle("response.created", "in_progress"));
    out.push_back(Lifecycle("response.in_progress", "in_progress"));
    out.push_back({"response.output_item.added", OutputItemEvent(g_, false, seq_++)});
    if (!g_.tool_call()) {
      out.push_back({"response.content_part.added", ContentPartEvent(g_, false, seq_++)});
    }
    return out;
  }
  SseEvent Content(int i) override {
    if (g_.tool_call()) {
      return {"response.function_call_arguments.delta", FunctionArgumentsDelta(g_, i, seq_++)};
    }
    return {"response.output_text.delta", OutputTextDelta(g_, i, seq_++)};
  }
  std::vector<SseEvent> Closing() override {
    std::vector<SseEvent> out;
    if (g_.tool_call()) {
      out.push_back({"response.function_call_arguments.done", FunctionArgumentsDone(g_, seq_++)});
    } else {
      out.push_back({"response.output_text.done", OutputTextDone(g_, seq_++)});
      out.push_back({"response.content_part.done", ContentPartEvent(g_, true, seq_++)});
    }
    out.push_back({"response.output_item.done", OutputItemEvent(g_, true, seq_++)});
    const char* status = ResponseFinalStatus(g_);
    out.push_back(Lifecycle(g_.truncated() ? "response.incomplete" : "response.completed", status));
    return out;
  }
  SseEvent ErrorEvent() override { return {"error", ResponsesErrorEvent(seq_++)}; }
  std::vector<SseEvent> Malformed() override {
    return {{"response.output_text.delta", R"({"type":"response.output_text.delta","item_id":)"}};
  }

 private:
  SseEvent Lifecycle(const char* type, const char* status) {
    return {type, ResponseLifecycleEvent(g_, type, status, seq_++)};
  }

  Generation g_;
  int64_t seq_ = 0;
};

class MessagesDialect : public StreamDialect {
 public:
  explicit MessagesDialect(Generation g) : g_(std::move(g)) {}

  int ContentCount() const override {
    return g_.tool_call() ? ToolArgumentPieces(g_.tokens) : g_.tokens;
  }
  std::vector<SseEvent> Opening() override {
    return {{"message_start", MessageStartEvent(g_)},
            {"content_block_start", ContentBlockStartEvent(g_)},
            {"ping", PingEvent()}};
  }
  SseEvent Content(int i) override {
    return {"content_block_delta", ContentBlockDeltaEvent(g_, i)};
  }
  std::vector<SseEvent> Closing() override {
    return {{"content_block_stop", ContentBlockStopEvent()},
            {"message_delta", MessageDeltaEvent(g_)},
            {"message_stop", MessageStopEvent()}};
  }
  SseEvent ErrorEvent() override {
    return {"error", AnthropicErrorBody("overloaded_error", "mock upstream error")};
  }
  std::vector<SseEvent> Malformed() override {
    return {{"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{)"}};
  }

 private:
  Generation g_;
};

}  // namespace

std::unique_ptr<StreamDialect> MakeOpenAiDialect(Generation g, bool include_usage) {
  return std::make_unique<OpenAiDialect>(std::move(g), include_usage);
}
std::unique_ptr<StreamDialect> MakeResponsesDialect(Generation g) {
  return std::make_unique<ResponsesDialect>(std::move(g));
}
std::unique_ptr<StreamDialect> MakeMessagesDialect(Generation g) {
  return std::make_unique<MessagesDialect>(std::move(g));
}

}  // namespace signalbox::mock
