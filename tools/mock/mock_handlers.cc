// The API endpoints of MockServer: chat and legacy completions (plain and streamed),
// embeddings and the model list. Begin() (mock_server.cc) has already counted the
// request, checked the key, waited the latency and applied the early faults.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "mock/anthropic_shapes.h"
#include "mock/mock_server.h"
#include "mock/mock_stream.h"
#include "mock/responses_shapes.h"

namespace signalbox::mock {
namespace {

constexpr const char* kJson = "application/json";

bool ShapesBody(FaultKind kind) {
  return kind == FaultKind::kCut || kind == FaultKind::kStall || kind == FaultKind::kErrorEvent ||
         kind == FaultKind::kMalformed || kind == FaultKind::kEmptyStream;
}

}  // namespace

void SendBadRequest(httplib::Response& res, ErrorStyle style, const ParsedRequest& parsed) {
  SendStyledError(res, style, 400, parsed.error, "invalid_request_error", parsed.error_param, "");
}

Generation MockServer::NewGeneration(Api api, const RequestPlan& plan,
                                     const ParsedRequest& parsed) {
  Generation g;
  g.api = api;
  g.serial = next_id_.fetch_add(1, std::memory_order_relaxed);
  switch (api) {
    case Api::kChat:
    case Api::kCompletion:
      g.id = fmt::format("{}-mock{:08x}", api == Api::kChat ? "chatcmpl" : "cmpl", g.serial);
      break;
    case Api::kResponses:
      g.id = ResponseId(g.serial);
      g.echo = parsed.echo;
      g.tool_name = plan.tool_call;
      break;
    case Api::kMessages:
      g.id = MessageId(g.serial);
      g.tool_name = plan.tool_call;
      break;
  }
  g.created = static_cast<int64_t>(std::time(nullptr));
  g.model = options_.model;
  g.tokens = plan.tokens;
  if (parsed.max_tokens && *parsed.max_tokens < plan.tokens) {
    g.tokens = static_cast<int>(*parsed.max_tokens);
    g.finish_reason = "length";
  }
  g.usage = plan.MakeUsage(parsed.prompt_tokens_estimate, g.tokens);
  return g;
}

void MockServer::HandleGeneration(Api api, const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(api == Api::kChat ? Endpoint::kChat : Endpoint::kCompletions, req, res, call)) {
    return;
  }
  ParsedRequest parsed =
      api == Api::kChat ? ParseChatRequest(req.body) : ParseCompletionRequest(req.body);
  if (!parsed.error.empty()) return SendBadRequest(res, call.style, parsed);
  Generation gen = NewGeneration(api, call.plan, parsed);
  if (parsed.stream) {
    return StartStream(call, res, MakeOpenAiDialect(std::move(gen), parsed.include_usage));
  }
  SendBody(call, res, CompletionBody(gen));
}

void MockServer::HandleEmbeddings(const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(Endpoint::kEmbeddings, req, res, call)) return;
  ParsedRequest parsed = ParseEmbeddingRequest(req.body);
  if (!parsed.error.empty()) return SendBadRequest(res, call.style, parsed);
  std::optional<Usage> usage = call.plan.MakeUsage(parsed.prompt_tokens_estimate, 0);
  SendBody(call, res, EmbeddingsBody(parsed.embedding, options_.model, usage));
}

void MockServer::HandleModels(const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(Endpoint::kModels, req, res, call)) return;
  SendBody(call, res, ModelsBody(options_.model));
}

void MockServer::StartStream(Call& call, httplib::Response& res,
                             std::unique_ptr<StreamDialect> dialect) {
  StreamSpec spec;
  spec.dialect = std::move(dialect);
  if (ShapesBody(call.plan.fault.kind)) {
    spec.fault = call.plan.fault;
    stats_.CountFault(spec.fault.spec);
  }
  spec.token_interval_ms = call.plan.token_interval_ms;
  stats_.Add(Counter::kStreamsStarted);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream",
                                   MakeSseProvider(std::move(spec), StreamEnv{&stats_, &stopping_},
                                                   call.connection, call.in_flight));
}

// A plain JSON answer. The stream-shaping faults get a plain-body meaning: cut and
// stall send the headers and half the body (then close, or hold the connection until
// the client leaves); error-event answers 200 with an error object (the endpoint's
// error shape: Anthropic's overloaded_error on /messages); malformed answers
// 200 with half the JSON; empty-stream answers 200 with an empty body.
void MockServer::SendBody(Call& call, httplib::Response& res, std::string body) {
  const Fault& fault = call.plan.fault;
  if (!ShapesBody(fault.kind)) return res.set_content(body, kJson);
  stats_.CountFault(fault.spec);
  const size_t half = body.size() / 2;
  switch (fault.kind) {
    case FaultKind::kErrorEvent:
      return res.set_content(
          call.style == ErrorStyle::kAnthropic
              ? AnthropicErrorBody("overloaded_error", "mock upstream error")
              : ErrorBody("mock upstream error", "server_error", "", "mock_error"),
          kJson);
    case FaultKind::kMalformed:
      return res.set_content(body.substr(0, half), kJson);
    case FaultKind::kEmptyStream:
      return res.set_content("", kJson);
    default:
      break;
  }
  const bool stall = fault.kind == FaultKind::kStall;
  auto shared_body = std::make_shared<const std::string>(std::move(body));
  res.set_content_provider(
      shared_body->size(), kJson,
      [this, shared_body, half, stall, connection = call.connection, in_flight = call.in_flight](
          size_t, size_t, httplib::DataSink& sink) {
        if (!sink.write(shared_body->data(), half)) {
          stats_.Add(Counter::kClientDisconnects);
        } else if (stall && connection->Wait(std::chrono::milliseconds(-1), stopping_) ==
                                WaitResult::kPeerClosed) {
          stats_.Add(Counter::kClientDisconnects);
        }
        return false;  // abort: httplib closes the connection mid-body
      });
}

}  // namespace signalbox::mock
