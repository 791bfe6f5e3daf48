// MockServer: the HTTP side of signalbox-mock — an OpenAI- and Anthropic-compatible
// upstream (chat, completions, embeddings, models, Responses, Messages) with latency,
// streaming and fault injection, plus /mock/* endpoints for tests.
//
// Thread-safe: one instance serves all worker threads; Stop() may be called from any
// thread (main() calls it from its signal thread). Each connection holds one of
// --threads workers for its whole life (httplib's model), so --threads bounds the
// concurrent connections served; more wait in the accept queue.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "mock/connection.h"
#include "mock/mock_options.h"
#include "mock/mock_stats.h"
#include "mock/openai_shapes.h"
#include "mock/request_parse.h"
#include "mock/request_plan.h"
#include "mock/stream_dialect.h"

namespace signalbox::mock {

// The error body shape of an endpoint: OpenAI's {"error":{...}} or Anthropic's
// {"type":"error","error":{"type","message"}} (on /messages and /messages/count_tokens).
enum class ErrorStyle { kOpenAi, kAnthropic };

class MockServer {
 public:
  explicit MockServer(MockOptions options);
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  // Binds --listen (SO_REUSEADDR only, so a second mock on the same port fails) with a
  // listen backlog of 4096. Returns the bound port (the real one when 0 was asked).
  StatusOr<int> Bind();
  // Serves until Stop(); returns once every worker thread has finished.
  void Run();
  // Stops accepting, wakes waiting handlers and closes idle keep-alive connections.
  // Idempotent.
  void Stop();

 private:
  enum class Endpoint {
    kChat,
    kCompletions,
    kEmbeddings,
    kModels,
    kResponses,
    kMessages,
    kCountTokens
  };

  // One API request being served. One-per-request.
  struct Call {
    ErrorStyle style = ErrorStyle::kOpenAi;
    RequestPlan plan;
    std::shared_ptr<Connection> connection;
    std::shared_ptr<InFlightToken> in_flight;
  };

  void RegisterRoutes();
  void RegisterApi(const std::string& prefix);
  void SetUpLogging();

  // Counts and records the request, checks the key and the control headers, waits the
  // latency and applies the faults that act before the body. Returns false when the
  // response is already decided (or the client left).
  bool Begin(Endpoint endpoint, const httplib::Request& req, httplib::Response& res, Call& call);
  void Record(const httplib::Request& req);
  bool Authorized(const httplib::Request& req) const;
  void ApplyEarlyFault(const Fault& fault, Call& call, httplib::Response& res);

  void HandleGeneration(Api api, const httplib::Request& req, httplib::Response& res);
  void HandleEmbeddings(const httplib::Request& req, httplib::Response& res);
  void HandleModels(const httplib::Request& req, httplib::Response& res);
  // The agent APIs (agent_handlers.cc).
  void HandleResponses(const httplib::Request& req, httplib::Response& res);
  void HandleMessages(const httplib::Request& req, httplib::Response& res);
  void HandleCountTokens(const httplib::Request& req, httplib::Response& res);

  // Sends a JSON body, shaped by the plan's cut/stall/error-event/malformed/empty fault.
  void SendBody(Call& call, httplib::Response& res, std::string body);
  void StartStream(Call& call, httplib::Response& res, std::unique_ptr<StreamDialect> dialect);
  // The answer to a parsed request: tokens capped by its max tokens, the planned usage,
  // an id from next_id_, and for the agent APIs the planned tool call and the echo.
  Generation NewGeneration(Api api, const RequestPlan& plan, const ParsedRequest& parsed);

  MockOptions options_;
  httplib::Server server_;
  MockStats stats_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> listen_fd_{-1};
  int port_ = 0;
  std::atomic<uint64_t> next_id_{1};
};

// Writes an OpenAI error body with `status`.
void SendError(httplib::Response& res, int status, std::string_view message, std::string_view type,
               std::string_view param, std::string_view code);
// 400 for a body ParseXxxRequest rejected, in `style`.
void SendBadRequest(httplib::Response& res, ErrorStyle style, const ParsedRequest& parsed);
// Writes the error body of `style`: OpenAI's with type, param and code, or Anthropic's,
// whose type follows from the status (AnthropicErrorType) and which has no param or code.
void SendStyledError(httplib::Response& res, ErrorStyle style, int status, std::string_view message,
                     std::string_view type, std::string_view param, std::string_view code);

}  // namespace signalbox::mock
