// The fault matrix of the agent APIs, as for chat: fallback before the first event, no
// fallback after it but an in-band error event in each API's own shape, a cut stream
// billed for what it produced, and a client that hangs up cancelling its upstream.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/agent_util.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;

const char* kResponsesPlain = R"({"model":"auto","input":"Say hi"})";
const char* kResponsesStream = R"({"model":"auto","input":"Say hi","stream":true})";

}  // namespace

TEST_CASE(
    "agent APIs fall back to the next backend before the first event: 500, 429, reset, "
    "an error as the first event",
    "[integration][agent][resilience]") {
  for (const char* fault : {"500", "429", "reset", "error-event"}) {
    INFO("small answers with fault " << fault);
    AgentSetup s("[chat, responses, messages]", "", "[chat, responses, messages]",
                 {"--fault", fault});
    auto c = s.gw.Client();
    auto m = c->Post("/v1/messages", MessagesBody("Say hi", false), "application/json");
    REQUIRE(m);
    INFO(m->body);
    CHECK(m->status == 200);
    CHECK(m->get_header_value("x-signalbox-backend") == "large");
    auto r = c->Post("/v1/responses", kResponsesPlain, "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "large");
    auto ms = PostSse(s.gw.BaseUrl(), "/v1/messages", MessagesBody("Say hi", true));
    INFO(ms.raw);
    CHECK(ms.status == 200);
    CHECK(StreamText(ms) == kMockText);
    REQUIRE_FALSE(ms.all.empty());
    CHECK(ms.all.back().name == "message_stop");
    auto rs = PostSse(s.gw.BaseUrl(), "/v1/responses", kResponsesStream);
    CHECK(rs.status == 200);
    CHECK(StreamText(rs) == kMockText);
    REQUIRE_FALSE(rs.all.empty());
    CHECK(rs.all.back().name == "response.completed");
    CHECK(Counter(s.large, "requests") == 4);
  }
}

TEST_CASE(
    "a Messages stream cut after its first events ends with an Anthropic error event, no "
    "fallback, billed for what it produced",
    "[integration][agent][resilience]") {
  AgentSetup s("[chat, responses, messages]");
  std::string id = NextId("msg-cut");
  auto r = PostSse(s.gw.BaseUrl(), "/v1/messages", MessagesBody("Say hi", true),
                   {{"x-request-id", id}, {"x-mock-fault", "cut:3"}, {"x-mock-usage", "100,20"}});
  INFO(r.raw);
  REQUIRE(r.status == 200);
  REQUIRE_FALSE(r.all.empty());
  CHECK(r.all.front().name == "message_start");
  CHECK(StreamText(r) == "tok1 tok2 tok3");
  CHECK(r.all.back().name == "error");
  auto e = json::parse(r.all.back().data);
  CHECK(e["type"] == "error");
  CHECK(e["error"]["type"] == "api_error");
  CHECK(e["error"]["message"].get<std::string>().find("interrupted") != std::string::npos);
  for (const auto& ev : r.all) CHECK(ev.name != "message_stop");
  CHECK(Counter(s.large, "requests") == 0);  // committed: never a second backend
  auto line = AccessLine(s.gw, id);
  CHECK(ErrorOf(line) == "upstream_stream_interrupted");
  // Input from message_start; output is what was relayed: 14 characters -> 4 tokens (the
  // upstream's own count, 1 at the start, never came).
  CHECK(line["input_tokens"] == 100);
  CHECK(line["output_tokens"] == 4);
  CHECK(line["cost_usd"].get<double>() == Approx((100 * 1.0 + 4 * 2.0) / 1e6));
}

TEST_CASE(
    "a Responses stream cut after its first events ends with an OpenAI error event, "
    "billed for what it produced",
    "[integration][agent][resilience]") {
  AgentSetup s("[chat, responses, messages]");
  std::string id = NextId("resp-cut");
  auto r = PostSse(s.gw.BaseUrl(), "/v1/responses", kResponsesStream,
                   {{"x-request-id", id}, {"x-mock-fault", "cut:3"}});
  INFO(r.raw);
  REQUIRE(r.status == 200);
  REQUIRE(r.all.size() >= 2);
  CHECK(r.all.front().name == "response.created");
  CHECK(StreamText(r) == "tok1 tok2 tok3");
  CHECK(r.all.back().name == "error");
  auto e = json::parse(r.all.back().data);
  CHECK(e["type"] == "error");
  CHECK(e["code"] == "upstream_stream_interrupted");
  // The sequence continues the upstream's numbering.
  auto before = json::parse(r.all[r.all.size() - 2].data);
  CHECK(e["sequence_number"] == before["sequence_number"].get<int64_t>() + 1);
  for (const auto& ev : r.all) CHECK(ev.name != "response.completed");
  auto line = AccessLine(s.gw, id);
  CHECK(ErrorOf(line) == "upstream_stream_interrupted");
  CHECK(line["output_tokens"] == 4);
  CHECK(line["input_tokens"].get<int64_t>() > 0);  // estimated: no usage before completed
  CHECK(line["cost_usd"].get<double>() > 0);
}

TEST_CASE("a client that hangs up on an agent stream cancels its upstream request",
          "[integration][agent][resilience]") {
  AgentSetup s("[chat, responses, messages]");
  httplib::Headers slow = {{"x-mock-tokens", "200"}, {"x-mock-token-interval-ms", "20"}};
  for (const char* path : {"/v1/messages", "/v1/responses"}) {
    INFO(path);
    int64_t before = Counter(s.small, "client_disconnects");
    std::string body =
        std::string(path) == "/v1/messages" ? MessagesBody("Say hi", true) : kResponsesStream;
    auto r = PostSse(s.gw.BaseUrl(), path, body, slow,
                     [](const SseResponse& got) { return got.all.size() >= 6; });
    CHECK(r.status == 200);
    CHECK(s.small.WaitForCounter("client_disconnects", before + 1));
  }
}

}  // namespace signalbox::testing
