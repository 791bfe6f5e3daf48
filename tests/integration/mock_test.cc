// signalbox-mock as the gateway's tests see it: OpenAI shapes, streaming, usage,
// control headers, --api-key, the /mock/* endpoints and the process lifecycle.
// Faults and disconnects are in mock_fault_test.cc.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "integration/mock_process.h"
#include "integration/process.h"
#include "integration/sse_client.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;

RunningMock Start(const std::vector<std::string>& args = {}) {
  auto mock = StartMock(args);
  INFO((mock.ok() ? std::string() : mock.status().message()));
  REQUIRE(mock.ok());
  return std::move(*mock);
}

httplib::Result PostJson(const RunningMock& mock, const std::string& path, const json& body,
                         const httplib::Headers& headers = {}) {
  httplib::Client client(mock.BaseUrl());
  client.set_read_timeout(std::chrono::seconds(10));
  return client.Post(path.c_str(), headers, body.dump(), "application/json");
}

json ChatBody(bool stream = false) {
  // 28 characters of message text: ceil(28 / 4) = 7 prompt tokens.
  json body = {{"model", "auto"},
               {"messages",
                {{{"role", "system"}, {"content", "be brief"}},
                 {{"role", "user"}, {"content", "what is 2+2, please?"}}}}};
  if (stream) body["stream"] = true;
  return body;
}

std::vector<json> ParseEvents(const SseResponse& r) {
  std::vector<json> out;
  for (const auto& e : r.events) {
    if (e != "[DONE]") out.push_back(json::parse(e));
  }
  return out;
}

TEST_CASE("mock answers a plain chat completion", "[mock]") {
  RunningMock mock = Start({"--model", "small-model"});
  auto res = PostJson(mock, "/v1/chat/completions", ChatBody());
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  json body = json::parse(res->body);
  CHECK(body["object"] == "chat.completion");
  CHECK(body["model"] == "small-model");
  CHECK(body["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
  CHECK(body["choices"][0]["message"]["role"] == "assistant");
  CHECK(body["choices"][0]["message"]["content"] ==
        "tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 tok12 tok13 tok14 tok15 tok16");
  CHECK(body["choices"][0]["finish_reason"] == "stop");
  CHECK(body["usage"] ==
        json({{"prompt_tokens", 7}, {"completion_tokens", 16}, {"total_tokens", 23}}));

  json capped = ChatBody();
  capped["max_tokens"] = 3;
  body = json::parse(PostJson(mock, "/v1/chat/completions", capped)->body);
  CHECK(body["choices"][0]["message"]["content"] == "tok1 tok2 tok3");
  CHECK(body["choices"][0]["finish_reason"] == "length");
  CHECK(body["usage"]["completion_tokens"] == 3);
}

TEST_CASE("mock streams a chat completion as OpenAI does", "[mock]") {
  RunningMock mock = Start({"--tokens", "4"});
  SECTION("without include_usage") {
    SseResponse r = PostSse(mock.BaseUrl(), "/v1/chat/completions", ChatBody(true).dump());
    CHECK(r.error == httplib::Error::Success);
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/event-stream");
    REQUIRE(r.Done());
    std::vector<json> chunks = ParseEvents(r);
    REQUIRE(chunks.size() == 5);  // role + 4 tokens
    CHECK(chunks[0]["choices"][0]["delta"]["role"] == "assistant");
    std::string text;
    for (size_t i = 0; i < chunks.size(); ++i) {
      CHECK(chunks[i]["object"] == "chat.completion.chunk");
      CHECK(chunks[i]["id"] == chunks[0]["id"]);
      CHECK(chunks[i]["created"] == chunks[0]["created"]);
      CHECK_FALSE(chunks[i].contains("usage"));
      if (i > 0) text += chunks[i]["choices"][0]["delta"]["content"].get<std::string>();
      CHECK(chunks[i]["choices"][0]["finish_reason"] ==
            (i + 1 == chunks.size() ? json("stop") : json(nullptr)));
    }
    CHECK(text == "tok1 tok2 tok3 tok4");
  }
  SECTION("with include_usage") {
    json body = ChatBody(true);
    body["stream_options"] = {{"include_usage", true}};
    body["max_completion_tokens"] = 2;
    SseResponse r = PostSse(mock.BaseUrl(), "/v1/chat/completions", body.dump());
    REQUIRE(r.Done());
    std::vector<json> chunks = ParseEvents(r);
    REQUIRE(chunks.size() == 4);  // role + 2 tokens + usage
    CHECK(chunks[2]["choices"][0]["finish_reason"] == "length");
    for (size_t i = 0; i < 3; ++i) CHECK(chunks[i]["usage"].is_null());
    CHECK(chunks[3]["choices"] == json::array());
    CHECK(chunks[3]["usage"] ==
          json({{"prompt_tokens", 7}, {"completion_tokens", 2}, {"total_tokens", 9}}));
  }
  json stats = mock.Stats();
  CHECK(stats["streams_started"] == 1);
  CHECK(stats["streams_completed"] == 1);
  // The worker lets go of the request just after the client has read its end.
  CHECK(mock.WaitForCounter("in_flight", 0));
}

TEST_CASE("mock serves legacy completions and embeddings and models", "[mock]") {
  RunningMock mock = Start({"--model", "m1", "--tokens", "3", "--prefix", "/openai/v1"});
  json completion = {{"model", "m1"}, {"prompt", "Say hi"}};
  json body = json::parse(PostJson(mock, "/v1/completions", completion)->body);
  CHECK(body["object"] == "text_completion");
  CHECK(body["choices"][0]["text"] == "tok1 tok2 tok3");
  CHECK(body["usage"]["prompt_tokens"] == 2);

  completion["stream"] = true;
  SseResponse r = PostSse(mock.BaseUrl(), "/v1/completions", completion.dump());
  REQUIRE(r.Done());
  std::vector<json> chunks = ParseEvents(r);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0]["object"] == "text_completion");
  CHECK(chunks[1]["choices"][0]["text"] == " tok2");
  CHECK(chunks[2]["choices"][0]["finish_reason"] == "stop");

  json emb = {{"model", "m1"}, {"input", json::array({"alpha", "beta"})}, {"dimensions", 4}};
  body = json::parse(PostJson(mock, "/openai/v1/embeddings", emb)->body);
  REQUIRE(body["data"].size() == 2);
  CHECK(body["data"][1]["index"] == 1);
  std::vector<float> first = body["data"][0]["embedding"].get<std::vector<float>>();
  CHECK(first.size() == 4);
  CHECK(body["data"][0]["embedding"] != body["data"][1]["embedding"]);
  CHECK(body["usage"] == json({{"prompt_tokens", 3}, {"total_tokens", 3}}));
  // Deterministic, and base64 carries the same little-endian float32 values.
  emb["input"] = "alpha";
  emb["encoding_format"] = "base64";
  body = json::parse(PostJson(mock, "/v1/embeddings", emb)->body);
  std::string b64 = body["data"][0]["embedding"];
  std::string raw;
  for (size_t i = 0; i + 4 <= b64.size(); i += 4) {
    auto val = [](char c) -> uint32_t {
      return c >= 'A' && c <= 'Z'   ? c - 'A'
             : c >= 'a' && c <= 'z' ? c - 'a' + 26
             : c >= '0' && c <= '9' ? c - '0' + 52
             : c == '+'             ? 62
             : c == '/'             ? 63
                                    : 0;
    };
    uint32_t n = val(b64[i]) << 18 | val(b64[i + 1]) << 12 | val(b64[i + 2]) << 6 | val(b64[i + 3]);
    raw += {static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  }
  raw.resize(raw.size() - (b64.size() - b64.find_last_not_of('=') - 1));  // padding
  REQUIRE(raw.size() == 4 * sizeof(float));
  std::vector<float> decoded(4);
  std::memcpy(decoded.data(), raw.data(), raw.size());
  CHECK(decoded == first);

  for (const char* path : {"/v1/models", "/openai/v1/models"}) {
    httplib::Client client(mock.BaseUrl());
    auto res = client.Get(path);
    REQUIRE(res);
    CHECK(json::parse(res->body) ==
          json::parse(R"({"object":"list","data":[{"id":"m1","object":"model",)"
                      R"("created":1700000000,"owned_by":"signalbox-mock"}]})"));
  }
  json stats = mock.Stats();
  CHECK(stats["requests"] == 6);
  CHECK(stats["completions"] == 2);
  CHECK(stats["embeddings"] == 2);
  CHECK(stats["models"] == 2);
}

TEST_CASE("mock rejects bad requests with OpenAI errors", "[mock]") {
  RunningMock mock = Start();
  httplib::Client client(mock.BaseUrl());
  auto res = client.Post("/v1/chat/completions", "{not json", "application/json");
  REQUIRE(res);
  CHECK(res->status == 400);
  json error = json::parse(res->body)["error"];
  CHECK(error["type"] == "invalid_request_error");
  CHECK(error.contains("param"));
  CHECK(error.contains("code"));

  res = client.Post("/v1/chat/completions", R"({"model":"x"})", "application/json");
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["param"] == "messages");
  res = client.Post("/v1/embeddings", R"({"model":"x","input":5})", "application/json");
  CHECK(json::parse(res->body)["error"]["param"] == "input");
  res = client.Get("/v2/nothing");
  CHECK(res->status == 404);
  CHECK(json::parse(res->body)["error"]["type"] == "invalid_request_error");
}

TEST_CASE("mock usage can be overridden or omitted", "[mock]") {
  SECTION("flags") {
    RunningMock mock = Start({"--usage-prompt", "100", "--usage-completion", "5"});
    json body = json::parse(PostJson(mock, "/v1/chat/completions", ChatBody())->body);
    CHECK(body["usage"] ==
          json({{"prompt_tokens", 100}, {"completion_tokens", 5}, {"total_tokens", 105}}));
    // The header wins over the flags.
    body = json::parse(
        PostJson(mock, "/v1/chat/completions", ChatBody(), {{"x-mock-usage", "1,2"}})->body);
    CHECK(body["usage"]["total_tokens"] == 3);
    body = json::parse(
        PostJson(mock, "/v1/chat/completions", ChatBody(), {{"x-mock-usage", "none"}})->body);
    CHECK_FALSE(body.contains("usage"));
  }
  SECTION("--no-usage") {
    RunningMock mock = Start({"--no-usage"});
    json body = json::parse(PostJson(mock, "/v1/chat/completions", ChatBody())->body);
    CHECK_FALSE(body.contains("usage"));
    json stream = ChatBody(true);
    stream["stream_options"] = {{"include_usage", true}};
    SseResponse r = PostSse(mock.BaseUrl(), "/v1/chat/completions", stream.dump());
    REQUIRE(r.Done());
    for (const json& chunk : ParseEvents(r)) {
      CHECK_FALSE(chunk.contains("usage"));
      CHECK_FALSE(chunk["choices"].empty());
    }
  }
}

TEST_CASE("mock control headers set tokens per request", "[mock]") {
  RunningMock mock = Start();
  auto res = PostJson(mock, "/v1/chat/completions", ChatBody(),
                      {{"x-mock-tokens", "2"}, {"x-mock-latency-ms", "1"}});
  REQUIRE(res);
  CHECK(json::parse(res->body)["choices"][0]["message"]["content"] == "tok1 tok2");
  res = PostJson(mock, "/v1/chat/completions", ChatBody(), {{"x-mock-tokens", "two"}});
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["message"].get<std::string>().find("x-mock-tokens") !=
        std::string::npos);
}

TEST_CASE("mock --api-key requires the backend key", "[mock]") {
  RunningMock mock = Start({"--api-key", "sk-upstream"});
  auto res = PostJson(mock, "/v1/chat/completions", ChatBody());
  CHECK(res->status == 401);
  CHECK(json::parse(res->body)["error"]["code"] == "invalid_api_key");
  res = PostJson(mock, "/v1/chat/completions", ChatBody(), {{"Authorization", "Bearer wrong"}});
  CHECK(res->status == 401);
  res =
      PostJson(mock, "/v1/chat/completions", ChatBody(), {{"Authorization", "Bearer sk-upstream"}});
  CHECK(res->status == 200);
  res = PostJson(mock, "/v1/chat/completions", ChatBody(), {{"api-key", "sk-upstream"}});
  CHECK(res->status == 200);
}

TEST_CASE("mock records the last request and resets its stats", "[mock]") {
  RunningMock mock = Start();
  CHECK(mock.LastRequest().is_null());
  PostJson(mock, "/v1/chat/completions", ChatBody(), {{"X-Custom", "v1"}});
  mock.Stats();  // /mock/* requests are not recorded
  json last = mock.LastRequest();
  CHECK(last["method"] == "POST");
  CHECK(last["path"] == "/v1/chat/completions");
  CHECK(last["headers"]["x-custom"] == "v1");
  CHECK_FALSE(last["headers"].contains("remote_addr"));
  CHECK(json::parse(last["body"].get<std::string>()) == ChatBody());
  CHECK(mock.Stats()["chat"] == 1);
  mock.ResetStats();
  json stats = mock.Stats();
  CHECK(stats["requests"] == 0);
  CHECK(stats["chat"] == 0);
  CHECK(mock.LastRequest().is_null());
}

TEST_CASE("mock process lifecycle: listening line and bad flags and double start and SIGTERM",
          "[mock]") {
  RunningMock mock = Start();
  auto line =
      mock.process->WaitForLine([](const std::string&) { return true; }, std::chrono::seconds(1));
  REQUIRE(line);
  CHECK(*line ==
        R"({"event":"listening","address":")" + mock.HostPort() + R"(","model":"mock-model"})");

  // A second mock on the same port must fail, not share the port.
  auto command = [](std::vector<std::string> argv) {
    ProcessOptions options;
    options.argv = std::move(argv);
    return options;
  };
  auto second = Process::Start(command({SIGNALBOX_MOCK_BIN, "--listen", mock.HostPort()}));
  REQUIRE(second.ok());
  CHECK((*second)->Wait() == 1);

  auto bad = Process::Start(command({SIGNALBOX_MOCK_BIN, "--tokens", "many"}));
  REQUIRE(bad.ok());
  CHECK((*bad)->Wait() == 2);
  CHECK((*bad)->WaitForLine([](const std::string& l) { return l.find("usage:") == 0; },
                            std::chrono::seconds(5), OutputStream::kStderr));

  // A client in the middle of a keep-alive connection must not delay a clean stop.
  httplib::Client client(mock.BaseUrl());
  client.set_keep_alive(true);
  REQUIRE(client.Get("/v1/models"));
  REQUIRE(mock.process->Signal(SIGTERM));
  CHECK(mock.process->WaitFor(std::chrono::seconds(20)) == 0);
}

}  // namespace
}  // namespace signalbox::testing
