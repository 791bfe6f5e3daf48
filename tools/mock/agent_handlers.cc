// The agent API endpoints of MockServer: OpenAI Responses and Anthropic Messages (plain
// and streamed) and Messages count_tokens. Begin() (mock_server.cc) has already counted
// the request, checked the key, waited the latency and applied the early faults, each
// answered in the endpoint's error shape; SendBody and StartStream (mock_handlers.cc)
// apply the body and stream faults as for chat.
#include "mock/anthropic_shapes.h"
#include "mock/mock_server.h"
#include "mock/responses_shapes.h"

namespace signalbox::mock {

void MockServer::HandleResponses(const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(Endpoint::kResponses, req, res, call)) return;
  ParsedRequest parsed = ParseResponsesRequest(req.body);
  if (!parsed.error.empty()) return SendBadRequest(res, call.style, parsed);
  Generation gen = NewGeneration(Api::kResponses, call.plan, parsed);
  if (parsed.stream) return StartStream(call, res, MakeResponsesDialect(std::move(gen)));
  SendBody(call, res, ResponseObject(gen, ResponseFinalStatus(gen)));
}

void MockServer::HandleMessages(const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(Endpoint::kMessages, req, res, call)) return;
  ParsedRequest parsed = ParseMessagesRequest(req.body);
  if (!parsed.error.empty()) return SendBadRequest(res, call.style, parsed);
  Generation gen = NewGeneration(Api::kMessages, call.plan, parsed);
  if (parsed.stream) return StartStream(call, res, MakeMessagesDialect(std::move(gen)));
  SendBody(call, res, MessageBody(gen));
}

void MockServer::HandleCountTokens(const httplib::Request& req, httplib::Response& res) {
  Call call;
  if (!Begin(Endpoint::kCountTokens, req, res, call)) return;
  ParsedRequest parsed = ParseCountTokensRequest(req.body);
  if (!parsed.error.empty()) return SendBadRequest(res, call.style, parsed);
  // The same number a Messages answer reports as input_tokens (x-mock-usage P wins).
  SendBody(call, res,
           CountTokensBody(call.plan.prompt_tokens.value_or(parsed.prompt_tokens_estimate)));
}

}  // namespace signalbox::mock
