// The agent APIs end to end: POST /v1/messages (Anthropic) and /v1/responses (OpenAI)
// through the real gateway to real signalbox-mock processes — forwarding byte for byte but
// `model`, events relayed unchanged, exact spend from the APIs' own usage (prompt-cache
// tokens included), previous_response_id affinity, count_tokens, and errors in each
// API's own shape.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/agent_util.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;

}  // namespace

TEST_CASE(
    "Messages: plain and streamed through the gateway, body byte for byte but model, "
    "events unchanged, exact spend with cache tokens",
    "[integration][agent]") {
  AgentSetup s("[chat]");  // large serves only chat: every Messages request goes to small
  std::string body = MessagesBody("Say hi", false);
  auto c = s.gw.Client();
  std::string id = NextId("msg-plain");
  auto r = c->Post("/v1/messages?beta=true",
                   {{"x-request-id", id},
                    {"anthropic-version", "2023-06-01"},
                    {"anthropic-beta", "tools-2024-05-16,prompt-caching-2024-07-31"},
                    {"x-api-key", "client-secret-never-forwarded"},
                    {"x-mock-usage", "100,20,30,10"}},
                   body, "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  auto j = json::parse(r->body);
  CHECK(j["type"] == "message");
  CHECK(j["model"] == "small-model");
  CHECK(j["content"][0]["text"] == kMockText);
  CHECK(r->get_header_value("x-signalbox-backend") == "small");
  // 100 plain input at $1, 30 cache reads at $0.5, 10 cache writes at $1.25, 20 out at $2.
  const double want = (100 * 1.0 + 30 * 0.5 + 10 * 1.25 + 20 * 2.0) / 1e6;
  CHECK(std::stod(r->get_header_value("x-signalbox-cost-usd")) == Approx(want));
  auto line = AccessLine(s.gw, id);
  CHECK(line["input_tokens"] == 140);
  CHECK(line["output_tokens"] == 20);
  CHECK(line["cost_usd"].get<double>() == Approx(want));

  // What the upstream got: the same bytes with only the model changed, the beta flag, the
  // anthropic-* headers, and not the client's key.
  auto last = s.small.LastRequest();
  CHECK(last["path"] == "/v1/messages?beta=true");
  CHECK(last["body"] == ReplaceModel(body, "small-model"));
  CHECK(HeaderOf(last, "anthropic-version") == "2023-06-01");
  CHECK(HeaderOf(last, "anthropic-beta") == "tools-2024-05-16,prompt-caching-2024-07-31");
  CHECK(HeaderOf(last, "x-api-key").empty());

  // Streamed: the same event sequence the mock sends, ending in message_stop.
  std::string sbody = MessagesBody("Say hi", true);
  std::string sid = NextId("msg-stream");
  auto via = PostSse(s.gw.BaseUrl(), "/v1/messages", sbody,
                     {{"x-request-id", sid}, {"x-mock-usage", "100,20,30,10"}});
  auto direct =
      PostSse(s.small.BaseUrl(), "/v1/messages", sbody, {{"x-mock-usage", "100,20,30,10"}});
  INFO(via.raw);
  REQUIRE(via.status == 200);
  CHECK(via.content_type == "text/event-stream");
  CHECK(EventNames(via) == EventNames(direct));
  CHECK(EventNames(via).back() == "message_stop");
  CHECK(StreamText(via) == kMockText);
  auto sline = AccessLine(s.gw, sid);
  CHECK(sline["input_tokens"] == 140);
  CHECK(sline["output_tokens"] == 20);
  CHECK(sline["cost_usd"].get<double>() == Approx(want));
  CHECK(ErrorOf(sline).empty());
}

TEST_CASE(
    "Responses: plain and streamed, usage with cached tokens, previous_response_id "
    "affinity",
    "[integration][agent]") {
  AgentSetup s("[chat, responses, messages]");
  auto c = s.gw.Client();
  std::string id = NextId("resp-plain");
  auto r = c->Post("/v1/responses",
                   {{"x-request-id", id}, {"x-pick", "large"}, {"x-mock-usage", "100,20,30"}},
                   R"({"model":"auto","input":"Say hi"})", "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  auto j = json::parse(r->body);
  CHECK(j["object"] == "response");
  CHECK(j["model"] == "large-model");
  CHECK(r->get_header_value("x-signalbox-backend") == "large");
  // OpenAI's input_tokens includes the cached ones: 70 plain at $1, 30 cached at $0.5.
  const double want = (70 * 1.0 + 30 * 0.5 + 20 * 2.0) / 1e6;
  CHECK(std::stod(r->get_header_value("x-signalbox-cost-usd")) == Approx(want));
  std::string resp_id = j["id"];
  REQUIRE_FALSE(resp_id.empty());

  // The follow-up names the response: it goes to the backend that holds it, though the
  // rules alone would pick small; /v1/route shows why.
  std::string follow =
      R"({"model":"auto","input":"And then?","previous_response_id":")" + resp_id + "\"}";
  auto route = c->Post("/v1/route", follow, "application/json");
  REQUIRE(route);
  auto d = json::parse(route->body);
  CHECK(d["api"] == "responses");
  CHECK(d["affinity"] == "large");
  CHECK(d["backend"] == "large");
  auto r2 = c->Post("/v1/responses", follow, "application/json");
  REQUIRE(r2);
  CHECK(r2->status == 200);
  CHECK(r2->get_header_value("x-signalbox-backend") == "large");
  auto r3 = c->Post("/v1/responses",
                    R"({"model":"auto","input":"x","previous_response_id":"resp_unknown"})",
                    "application/json");
  REQUIRE(r3);
  CHECK(r3->status == 200);
  CHECK(r3->get_header_value("x-signalbox-backend") == "small");

  // Streamed: unchanged events, response.completed last; its id is remembered too.
  std::string sid = NextId("resp-stream");
  std::string sbody = R"({"model":"auto","input":"Say hi","stream":true})";
  auto via = PostSse(s.gw.BaseUrl(), "/v1/responses", sbody,
                     {{"x-request-id", sid}, {"x-pick", "large"}, {"x-mock-usage", "100,20,30"}});
  auto direct = PostSse(s.large.BaseUrl(), "/v1/responses", sbody, {{"x-mock-usage", "100,20,30"}});
  INFO(via.raw);
  REQUIRE(via.status == 200);
  CHECK(EventNames(via) == EventNames(direct));
  REQUIRE_FALSE(via.all.empty());
  CHECK(via.all.back().name == "response.completed");
  CHECK(StreamText(via) == kMockText);
  auto sline = AccessLine(s.gw, sid);
  CHECK(sline["cost_usd"].get<double>() == Approx(want));
  std::string stream_id = json::parse(via.all.back().data)["response"]["id"];
  auto r4 =
      c->Post("/v1/responses",
              R"({"model":"auto","input":"more","previous_response_id":")" + stream_id + "\"}",
              "application/json");
  REQUIRE(r4);
  CHECK(r4->get_header_value("x-signalbox-backend") == "large");
}

TEST_CASE("agent API errors come in each API's own shape, and keys work as x-api-key",
          "[integration][agent]") {
  AgentSetup s("[chat]", "team-key-1");
  auto c = s.gw.Client();
  httplib::Headers key = {{"x-api-key", "team-key-1"}};
  auto post = [&](const char* path, const std::string& body, httplib::Headers h) {
    auto r = c->Post(path, h, body, "application/json");
    REQUIRE(r);
    return r;
  };
  // Messages: Anthropic's shape, the type from the status.
  CheckAnthropicError(post("/v1/messages", "{not json", key), 400, "invalid_request_error");
  CheckAnthropicError(post("/v1/messages", R"({"model":"auto","max_tokens":5})", key), 400,
                      "invalid_request_error");
  CheckAnthropicError(post("/v1/messages", MessagesBody("x", false), {{"x-api-key", "wrong"}}), 401,
                      "authentication_error");
  CheckAnthropicError(post("/v1/messages", MessagesBody("x", false), {}), 401,
                      "authentication_error");
  CheckAnthropicError(
      post("/v1/messages",
           R"({"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]})", key),
      404, "not_found_error");
  // large serves only chat: asked for by name, it cannot take a Messages request.
  auto no_api =
      post("/v1/messages",
           R"({"model":"large","max_tokens":5,"messages":[{"role":"user","content":"x"}]})", key);
  auto e = CheckAnthropicError(no_api, 404, "not_found_error");
  CHECK(e["message"].get<std::string>().find("messages") != std::string::npos);
  // An upstream 4xx about the request is relayed in the client's shape.
  httplib::Headers fault = key;
  fault.emplace("x-mock-fault", "400");
  CheckAnthropicError(post("/v1/messages", MessagesBody("x", false), fault), 400,
                      "invalid_request_error");
  // The right key as x-api-key passes.
  CHECK(post("/v1/messages", MessagesBody("x", false), key)->status == 200);

  // Responses: OpenAI's shape, param naming the field.
  auto bad_input = post("/v1/responses", R"({"model":"auto","input":42})",
                        {{"Authorization", "Bearer team-key-1"}});
  auto err = CheckErrorResponse(bad_input, 400);
  CHECK(err["param"] == "input");
  CheckErrorResponse(post("/v1/responses", "[]", key), 400);
}

TEST_CASE(
    "count_tokens: forwarded to the routed backend when it serves Messages, else the "
    "gateway's estimate, never billed",
    "[integration][agent]") {
  std::string body =
      R"({"model":"auto","messages":[{"role":"user","content":"count these words please"}]})";
  {
    AgentSetup s("[chat, responses, messages]");
    auto r = s.gw.Client()->Post("/v1/messages/count_tokens", body, "application/json");
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["input_tokens"].get<int64_t>() > 0);
    CHECK(Counter(s.small, "count_tokens") == 1);
    CHECK(s.small.LastRequest()["path"] == "/v1/messages/count_tokens");
  }
  {
    AgentSetup s("[chat]", "", "[chat]");  // nobody serves Messages
    auto r = s.gw.Client()->Post("/v1/messages/count_tokens", body, "application/json");
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["input_tokens"].get<int64_t>() > 0);
    CHECK(Counter(s.small, "requests") == 0);
    CHECK(Counter(s.large, "requests") == 0);
  }
}

}  // namespace signalbox::testing
