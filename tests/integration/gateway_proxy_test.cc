// The gateway in front of two signalbox-mock models: plain and streamed requests,
// forwarding rules, fallbacks and the error shapes a client sees.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/gateway_fixture.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/sse_client.h"

using namespace signalbox::testing;
using nlohmann::json;

namespace {

// server_extra, backend_extra, then the small and large mocks' extra flags.
struct Fixture : MocksAndGateway {
  explicit Fixture(const std::string& server_extra = "", const std::string& backend_extra = "",
                   const std::vector<std::string>& small_args = {},
                   const std::vector<std::string>& large_args = {})
      : MocksAndGateway(
            FixtureOptions{server_extra, backend_extra, small_args, large_args, {}, "", false}) {}
};

void CheckErrorShape(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  for (const char* k : {"message", "type", "param", "code"}) CHECK(j["error"].contains(k));
}

}  // namespace

TEST_CASE("a plain chat completion goes to the routed backend and comes back unchanged",
          "[integration][proxy]") {
  Fixture f;
  auto cli = f.gw.Client();
  auto res = cli->Post("/v1/chat/completions",
                       {{"Authorization", "Bearer client-secret-123"}, {"x-custom", "kept"}},
                       ChatBody("hello there"), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  auto body = json::parse(res->body);
  CHECK(body["model"] == "small-model");
  CHECK(body["object"] == "chat.completion");
  CHECK(body["usage"]["completion_tokens"] == 16);
  CHECK(res->get_header_value("x-signalbox-backend") == "small");
  CHECK(res->get_header_value("x-signalbox-rule") == "default");
  CHECK(!res->get_header_value("x-signalbox-tier").empty());
  CHECK(!res->get_header_value("x-signalbox-score").empty());
  CHECK(!res->get_header_value("x-signalbox-cost-usd").empty());
  CHECK(!res->get_header_value("x-request-id").empty());
  CHECK(res->get_header_value("Content-Encoding").empty());
  // What the upstream saw: the backend's model, no client credentials, other headers kept.
  json seen = f.small.LastRequest();
  auto up = json::parse(seen["body"].get<std::string>());
  CHECK(up["model"] == "small-model");
  CHECK(up["messages"][0]["content"] == "hello there");
  CHECK_FALSE(seen["headers"].contains("Authorization"));
  CHECK_FALSE(seen["headers"].contains("authorization"));
  bool custom = seen["headers"].contains("x-custom") || seen["headers"].contains("X-Custom");
  CHECK(custom);
  auto line = f.gw.WaitForAccess(
      [&](const json& j) { return j["request_id"] == res->get_header_value("x-request-id"); });
  REQUIRE(line);
  CHECK((*line)["status"] == 200);
  CHECK((*line)["backend"] == "small");
  CHECK((*line)["input_tokens"] == body["usage"]["prompt_tokens"]);
  CHECK((*line)["output_tokens"] == 16);
}

TEST_CASE("the client's x-request-id is echoed, a hostile one is replaced",
          "[integration][proxy]") {
  Fixture f;
  auto cli = f.gw.Client();
  auto a = cli->Post("/v1/chat/completions", {{"x-request-id", "abc-123"}}, ChatBody("hi"),
                     "application/json");
  REQUIRE(a);
  CHECK(a->get_header_value("x-request-id") == "abc-123");
  CHECK(f.small.LastRequest()["headers"].dump().find("abc-123") != std::string::npos);
  auto b = cli->Post("/v1/chat/completions", {{"x-request-id", std::string(300, 'x')}},
                     ChatBody("hi"), "application/json");
  REQUIRE(b);
  CHECK(b->get_header_value("x-request-id").size() < 100);
}

TEST_CASE(
    "a stream is relayed event by event, ends with [DONE], and hides the usage chunk unless asked",
    "[integration][proxy][stream]") {
  Fixture f;
  auto r = PostSse(f.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                   {{"Accept-Encoding", "gzip, br"}});
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  CHECK(r.Done());
  CHECK(r.headers.find("Content-Encoding") == r.headers.end());
  // role chunk + 16 token chunks + [DONE]; no usage-only chunk.
  CHECK(r.events.size() == 18);
  for (size_t i = 0; i + 1 < r.events.size(); ++i) {
    auto j = json::parse(r.events[i]);
    CHECK(j["choices"].size() == 1);
  }
  // The gateway asked the upstream for usage anyway, and billed it.
  auto up = json::parse(f.small.LastRequest()["body"].get<std::string>());
  CHECK(up["stream_options"]["include_usage"] == true);
  auto line = f.gw.WaitForAccess([](const json& j) { return j["status"] == 200; });
  REQUIRE(line);
  CHECK((*line)["output_tokens"] == 16);
  CHECK((*line)["ttft_ms"].is_number());

  auto u = PostSse(f.gw.BaseUrl(), "/v1/chat/completions",
                   ChatBody("hi", true, R"("stream_options":{"include_usage":true})"));
  REQUIRE(u.events.size() == 19);
  auto usage = json::parse(u.events[17]);
  CHECK(usage["choices"].empty());
  CHECK(usage["usage"]["completion_tokens"] == 16);
}

TEST_CASE("completions, embeddings and models", "[integration][proxy]") {
  Fixture f;
  auto cli = f.gw.Client();
  auto c = cli->Post("/v1/completions", R"({"model":"auto","prompt":"Say hi","max_tokens":4})",
                     "application/json");
  REQUIRE(c);
  CHECK(c->status == 200);
  CHECK(json::parse(c->body)["object"] == "text_completion");
  auto e = cli->Post("/v1/embeddings", R"({"model":"small-model","input":["a","b"]})",
                     "application/json");
  REQUIRE(e);
  CHECK(e->status == 200);
  CHECK(json::parse(e->body)["data"].size() == 2);
  CHECK(e->get_header_value("x-signalbox-tier").empty());
  CHECK(e->get_header_value("x-signalbox-backend") == "small");
  auto m = cli->Get("/v1/models");
  REQUIRE(m);
  auto ids = json::parse(m->body)["data"];
  std::vector<std::string> names;
  for (const auto& d : ids) names.push_back(d["id"]);
  CHECK(names == std::vector<std::string>{"auto", "small-model", "large-model"});
}

TEST_CASE("explicit models go straight to their backend, unknown ones are 404 model_not_found",
          "[integration][proxy]") {
  Fixture f;
  auto cli = f.gw.Client();
  auto r = cli->Post("/v1/chat/completions",
                     R"({"model":"large","messages":[{"role":"user","content":"x"}]})",
                     "application/json");
  REQUIRE(r);
  CHECK(r->get_header_value("x-signalbox-backend") == "large");
  CHECK(r->get_header_value("x-signalbox-rule") == "explicit");
  CHECK(r->get_header_value("x-signalbox-tier").empty());
  auto n = cli->Post("/v1/chat/completions",
                     R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})",
                     "application/json");
  REQUIRE(n);
  CHECK(n->status == 404);
  CheckErrorShape(n->body);
  CHECK(json::parse(n->body)["error"]["code"] == "model_not_found");
}

TEST_CASE("an upstream 5xx falls back to the next backend, a 4xx is relayed without fallback",
          "[integration][proxy][fallback]") {
  Fixture f;
  auto cli = f.gw.Client();
  auto r = cli->Post("/v1/chat/completions", {{"x-mock-fault", "503"}}, ChatBody("hi"),
                     "application/json");
  REQUIRE(r);
  // Both mocks see the header, so both fail: the client gets one clean 503, told not to retry.
  CHECK(r->status == 503);
  CheckErrorShape(r->body);
  CHECK(r->get_header_value("x-should-retry") == "false");
  CHECK(f.small.Stats()["requests"] == 1);
  CHECK(f.large.Stats()["requests"] == 1);
  auto bad = cli->Post("/v1/chat/completions", {{"x-mock-fault", "400"}}, ChatBody("hi"),
                       "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(json::parse(bad->body)["error"]["code"] == "context_length_exceeded");
  CHECK(f.large.Stats()["requests"] == 1);  // no fallback for a client error
}

TEST_CASE("a stream cut by the upstream ends with an error event and no [DONE]",
          "[integration][proxy][stream]") {
  Fixture f;
  auto r = PostSse(f.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true),
                   {{"x-mock-fault", "cut:3"}});
  CHECK(r.status == 200);
  REQUIRE(r.events.size() >= 2);
  CHECK_FALSE(r.Done());
  auto last = json::parse(r.events.back());
  REQUIRE(last.contains("error"));
  CHECK(last["error"]["code"] == "upstream_stream_interrupted");
  CHECK(f.large.Stats()["requests"] == 0);  // no fallback after the first byte
}

TEST_CASE("a client that hangs up mid-stream cancels its upstream request",
          "[integration][proxy][stream]") {
  Fixture f("", "", {"--token-interval", "50", "--tokens", "200"});
  auto r = PostSse(f.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), {},
                   [](const SseResponse& s) { return s.events.size() >= 3; });
  CHECK(r.events.size() >= 3);
  CHECK(f.small.WaitForCounter("client_disconnects", 1, std::chrono::seconds(5)));
}

TEST_CASE("a hung upstream times out at first_byte and the client gets a 504",
          "[integration][proxy][timeout]") {
  Fixture f("", "    timeouts: {connect: 1s, first_byte: 1s, idle: 2s, total: 30s}\n");
  auto cli = f.gw.Client();
  auto r = cli->Post("/v1/chat/completions", {{"x-mock-fault", "hang"}}, ChatBody("hi"),
                     "application/json");
  REQUIRE(r);
  CHECK(r->status == 504);
  CheckErrorShape(r->body);
  CHECK(json::parse(r->body)["error"]["code"] == "upstream_timeout");
  // The abandoned upstream requests were closed.
  CHECK(f.small.WaitForCounter("client_disconnects", 1));
  CHECK(f.large.WaitForCounter("client_disconnects", 1));
}

TEST_CASE("a backend's configured headers replace a client header of the same name",
          "[integration][proxy]") {
  Fixture f("", "    headers: {X-Team: from-config}\n");
  auto res =
      f.gw.Client()->Post("/v1/chat/completions", {{"x-team", "from-client"}, {"x-other", "kept"}},
                          ChatBody("hello"), "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  // The raw JSON: a duplicated header would be two members (parsing keeps only one).
  httplib::Client mock(f.small.BaseUrl());
  auto last = mock.Get("/mock/last-request");
  REQUIRE(last);
  const std::string& seen = last->body;
  INFO(seen);
  CHECK(seen.find("from-config") != std::string::npos);
  CHECK(seen.find("from-client") == std::string::npos);
  CHECK(seen.find("kept") != std::string::npos);
}
