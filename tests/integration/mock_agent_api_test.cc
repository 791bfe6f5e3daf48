// signalbox-mock's agent APIs as the gateway's tests see them: OpenAI Responses
// (/v1/responses) and Anthropic Messages (/v1/messages, /v1/messages/count_tokens) —
// the exact event sequences, usage numbers, tool calls, error shapes and faults.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/mock_process.h"
#include "integration/sse_client.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;
using Names = std::vector<std::string>;

RunningMock Start(const std::vector<std::string>& args = {}) {
  auto mock = StartMock(args);
  INFO((mock.ok() ? std::string() : mock.status().message()));
  REQUIRE(mock.ok());
  return std::move(*mock);
}

httplib::Result Post(const RunningMock& mock, const std::string& path, const std::string& body,
                     const httplib::Headers& headers = {},
                     std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) {
  httplib::Client client(mock.BaseUrl());
  client.set_read_timeout(read_timeout);
  return client.Post(path.c_str(), headers, body, "application/json");
}

json PostJson(const RunningMock& mock, const std::string& path, const json& body,
              const httplib::Headers& headers = {}) {
  auto res = Post(mock, path, body.dump(), headers);
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 200);
  return json::parse(res->body);
}

// 28 characters of text (instructions + input): ceil(28 / 4) = 7 input tokens.
json ResponsesBody(bool stream = false) {
  json body = {{"model", "m"}, {"instructions", "be brief"}, {"input", "what is 2+2, please?"}};
  if (stream) body["stream"] = true;
  return body;
}

// 28 characters of text (system + messages): 7 input tokens.
json MessagesBody(bool stream = false) {
  json body = {{"model", "m"},
               {"max_tokens", 1024},
               {"system", "be brief"},
               {"messages", {{{"role", "user"}, {"content", "what is 2+2, please?"}}}}};
  if (stream) body["stream"] = true;
  return body;
}

SseResponse Stream(const RunningMock& mock, const std::string& path, const json& body,
                   const httplib::Headers& headers = {},
                   const std::function<bool(const SseResponse&)>& hang_up = nullptr) {
  return PostSse(mock.BaseUrl(), path, body.dump(), headers, hang_up);
}

Names NamesOf(const SseResponse& r) {
  Names out;
  for (const SseEvent& e : r.all) out.push_back(e.name);
  return out;
}

json DataOf(const SseResponse& r, size_t i) { return json::parse(r.all.at(i).data); }

// `prefix`, then `count` copies of `repeated`, then `suffix`.
Names Seq(Names prefix, const std::string& repeated, int count, const Names& suffix = {}) {
  for (int i = 0; i < count; ++i) prefix.push_back(repeated);
  prefix.insert(prefix.end(), suffix.begin(), suffix.end());
  return prefix;
}

const Names kResponsesOpening = {"response.created", "response.in_progress",
                                 "response.output_item.added", "response.content_part.added"};
const Names kResponsesClosing = {"response.output_text.done", "response.content_part.done",
                                 "response.output_item.done", "response.completed"};
const Names kMessagesOpening = {"message_start", "content_block_start", "ping"};
const Names kMessagesClosing = {"content_block_stop", "message_delta", "message_stop"};

TEST_CASE("mock answers a plain Responses request", "[mock]") {
  RunningMock mock = Start({"--model", "small-model", "--tokens", "3", "--prefix", "/openai/v1"});
  json body = ResponsesBody();
  body["previous_response_id"] = "resp_earlier";
  body["tools"] = json::parse(R"([{"type":"function","name":"f","parameters":{}}])");
  json r = PostJson(mock, "/v1/responses", body);
  CHECK(r["id"].get<std::string>().rfind("resp_mock", 0) == 0);
  CHECK(r["object"] == "response");
  CHECK(r["created_at"].is_number_integer());
  CHECK(r["status"] == "completed");
  CHECK(r["model"] == "small-model");
  CHECK(r["error"].is_null());
  CHECK(r["incomplete_details"].is_null());
  CHECK(r["instructions"] == "be brief");
  CHECK(r["previous_response_id"] == "resp_earlier");
  CHECK(r["tools"] == body["tools"]);
  REQUIRE(r["output"].size() == 1);
  json item = r["output"][0];
  CHECK(item["type"] == "message");
  CHECK(item["id"].get<std::string>().rfind("msg_mock", 0) == 0);
  CHECK(item["status"] == "completed");
  CHECK(item["role"] == "assistant");
  CHECK(item["content"] == json::parse(R"([{"type":"output_text","text":"tok1 tok2 tok3",
                                             "annotations":[]}])"));
  CHECK(r["usage"] == json::parse(R"({"input_tokens":7,"input_tokens_details":{"cached_tokens":0},
      "output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":10})"));

  // Input items: messages with parts, a function call and its output all count.
  json items = {{"model", "m"}, {"input", json::parse(R"([
      {"role":"user","content":[{"type":"input_text","text":"abcd"},
                                {"type":"input_image","image_url":"data:,"}]},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"efgh"}]},
      {"type":"function_call","call_id":"c1","name":"ab","arguments":"{}"},
      {"type":"function_call_output","call_id":"c1","output":"ijkl"}])")}};
  // 4 + 4 + (2 + 2 + 2) + (2 + 4) = 20 characters: 5 tokens.
  CHECK(PostJson(mock, "/openai/v1/responses", items)["usage"]["input_tokens"] == 5);

  body = ResponsesBody();
  body["max_output_tokens"] = 2;
  r = PostJson(mock, "/v1/responses", body);
  CHECK(r["status"] == "incomplete");
  CHECK(r["incomplete_details"] == json({{"reason", "max_output_tokens"}}));
  CHECK(r["max_output_tokens"] == 2);
  CHECK(r["output"][0]["status"] == "incomplete");
  CHECK(r["output"][0]["content"][0]["text"] == "tok1 tok2");
  CHECK(r["usage"]["output_tokens"] == 2);
  CHECK(mock.Stats()["responses"] == 3);
}

TEST_CASE("mock streams Responses events in the real order", "[mock]") {
  RunningMock mock = Start({"--tokens", "3"});
  SseResponse r = Stream(mock, "/openai/v1/responses", ResponsesBody(true));
  CHECK(r.status == 404);  // no --prefix given: only /v1
  r = Stream(mock, "/v1/responses", ResponsesBody(true));
  CHECK(r.error == httplib::Error::Success);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  CHECK(NamesOf(r) == Seq(kResponsesOpening, "response.output_text.delta", 3, kResponsesClosing));
  CHECK(r.events.empty());  // every event is named
  CHECK(r.raw.find("[DONE]") == std::string::npos);
  std::string text;
  std::string item_id = DataOf(r, 2)["item"]["id"];
  for (size_t i = 0; i < r.all.size(); ++i) {
    json e = DataOf(r, i);
    CHECK(e["type"] == r.all[i].name);
    CHECK(e["sequence_number"] == i);
    if (r.all[i].name == "response.output_text.delta") {
      CHECK(e["item_id"] == item_id);
      CHECK(e["output_index"] == 0);
      CHECK(e["content_index"] == 0);
      text += e["delta"].get<std::string>();
    }
  }
  CHECK(text == "tok1 tok2 tok3");
  json created = DataOf(r, 0)["response"];
  CHECK(created["status"] == "in_progress");
  CHECK(created["output"] == json::array());
  CHECK(created["usage"].is_null());
  CHECK(DataOf(r, 2)["item"] == json::parse(R"({"type":"message","id":")" + item_id +
                                            R"(","status":"in_progress","role":"assistant",
                                                "content":[]})"));
  CHECK(DataOf(r, 3)["part"] ==
        json::parse(R"({"type":"output_text","text":"","annotations":[]})"));
  CHECK(DataOf(r, 7)["text"] == "tok1 tok2 tok3");
  CHECK(DataOf(r, 8)["part"]["text"] == "tok1 tok2 tok3");
  CHECK(DataOf(r, 9)["item"]["status"] == "completed");
  json completed = DataOf(r, 10)["response"];
  CHECK(completed["id"] == created["id"]);
  CHECK(completed["status"] == "completed");
  CHECK(completed["output"][0]["content"][0]["text"] == "tok1 tok2 tok3");
  CHECK(completed["usage"]["input_tokens"] == 7);
  CHECK(completed["usage"]["output_tokens"] == 3);
  CHECK(completed["usage"]["total_tokens"] == 10);

  // Cut by max_output_tokens, the stream ends with response.incomplete.
  json body = ResponsesBody(true);
  body["max_output_tokens"] = 1;
  r = Stream(mock, "/v1/responses", body);
  Names closing = kResponsesClosing;
  closing.back() = "response.incomplete";
  CHECK(NamesOf(r) == Seq(kResponsesOpening, "response.output_text.delta", 1, closing));
  CHECK(DataOf(r, r.all.size() - 1)["response"]["incomplete_details"]["reason"] ==
        "max_output_tokens");
  CHECK(mock.WaitForStats([](const json& s) {
    return s["streams_started"] == 2 && s["streams_completed"] == 2 && s["in_flight"] == 0;
  }));
}

TEST_CASE("mock answers a plain Messages request", "[mock]") {
  RunningMock mock =
      Start({"--model", "claude-mock", "--tokens", "3", "--prefix", "/anthropic/v1"});
  json r = PostJson(mock, "/v1/messages?beta=true", MessagesBody());
  CHECK(r["id"].get<std::string>().rfind("msg_mock", 0) == 0);
  r.erase("id");
  CHECK(r == json::parse(R"({"type":"message","role":"assistant","model":"claude-mock",
      "content":[{"type":"text","text":"tok1 tok2 tok3"}],"stop_reason":"end_turn",
      "stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":0,
      "cache_read_input_tokens":0,"output_tokens":3}})"));

  // Content blocks and system blocks count; images do not.
  json blocks = {{"model", "m"},
                 {"max_tokens", 2},
                 {"system", {{{"type", "text"}, {"text", "abcd"}}}},
                 {"messages", json::parse(R"([
      {"role":"user","content":[{"type":"text","text":"efgh"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},
      {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"ab","input":{}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ijkl"}]}])")}};
  // 4 + 4 + (2 + 2) + 4 = 16 characters: 4 tokens.
  r = PostJson(mock, "/anthropic/v1/messages", blocks);
  CHECK(r["usage"]["input_tokens"] == 4);
  CHECK(r["stop_reason"] == "max_tokens");
  CHECK(r["content"][0]["text"] == "tok1 tok2");
  CHECK(r["usage"]["output_tokens"] == 2);
  CHECK(mock.Stats()["messages"] == 2);
}

TEST_CASE("mock streams Messages events in the real order", "[mock]") {
  RunningMock mock = Start({"--tokens", "3"});
  SseResponse r = Stream(mock, "/v1/messages?beta=true", MessagesBody(true));
  CHECK(r.error == httplib::Error::Success);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  CHECK(NamesOf(r) == Seq(kMessagesOpening, "content_block_delta", 3, kMessagesClosing));
  CHECK(r.raw.find("[DONE]") == std::string::npos);
  for (size_t i = 0; i < r.all.size(); ++i) CHECK(DataOf(r, i)["type"] == r.all[i].name);
  json start = DataOf(r, 0)["message"];
  CHECK(start["id"].get<std::string>().rfind("msg_mock", 0) == 0);
  CHECK(start["content"] == json::array());
  CHECK(start["stop_reason"].is_null());
  CHECK(start["usage"] == json::parse(R"({"input_tokens":7,"cache_creation_input_tokens":0,
                                          "cache_read_input_tokens":0,"output_tokens":1})"));
  CHECK(DataOf(r, 1) == json::parse(R"({"type":"content_block_start","index":0,
                                        "content_block":{"type":"text","text":""}})"));
  CHECK(DataOf(r, 2) == json({{"type", "ping"}}));
  CHECK(DataOf(r, 4) == json::parse(R"({"type":"content_block_delta","index":0,
                                        "delta":{"type":"text_delta","text":" tok2"}})"));
  std::string text;
  for (size_t i = 3; i < 6; ++i) text += DataOf(r, i)["delta"]["text"].get<std::string>();
  CHECK(text == "tok1 tok2 tok3");
  CHECK(DataOf(r, 6) == json::parse(R"({"type":"content_block_stop","index":0})"));
  CHECK(DataOf(r, 7) == json::parse(R"({"type":"message_delta","delta":{"stop_reason":"end_turn",
                                        "stop_sequence":null},"usage":{"output_tokens":3}})"));
  CHECK(DataOf(r, 8) == json({{"type", "message_stop"}}));

  json capped = MessagesBody(true);
  capped["max_tokens"] = 1;
  r = Stream(mock, "/v1/messages", capped);
  CHECK(NamesOf(r) == Seq(kMessagesOpening, "content_block_delta", 1, kMessagesClosing));
  CHECK(DataOf(r, 5)["delta"]["stop_reason"] == "max_tokens");
  CHECK(mock.WaitForStats([](const json& s) {
    return s["streams_started"] == 2 && s["streams_completed"] == 2 && s["in_flight"] == 0;
  }));
}

TEST_CASE("mock count_tokens reports the Messages input estimate", "[mock]") {
  RunningMock mock = Start();
  json body = MessagesBody();
  body.erase("max_tokens");  // not required here
  CHECK(PostJson(mock, "/v1/messages/count_tokens?beta=true", body) == json({{"input_tokens", 7}}));
  CHECK(PostJson(mock, "/v1/messages/count_tokens", body, {{"x-mock-usage", "42,1"}}) ==
        json({{"input_tokens", 42}}));
  auto res = Post(mock, "/v1/messages/count_tokens", R"({"model":"m"})");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(json::parse(res->body) == json::parse(R"({"type":"error","error":{
      "type":"invalid_request_error","message":"messages: Field required"}})"));
  json stats = mock.Stats();
  CHECK(stats["count_tokens"] == 3);
  CHECK(stats["messages"] == 0);
}

TEST_CASE("mock answers tool calls on both agent APIs", "[mock]") {
  RunningMock mock = Start({"--tokens", "3"});
  const httplib::Headers tool = {{"x-mock-tool-call", "get_weather"}};
  const json arguments = {{"arg", "tok1 tok2 tok3"}};
  SECTION("Messages") {
    json r = PostJson(mock, "/v1/messages", MessagesBody(), tool);
    CHECK(r["stop_reason"] == "tool_use");
    REQUIRE(r["content"].size() == 1);
    json block = r["content"][0];
    CHECK(block["type"] == "tool_use");
    CHECK(block["id"].get<std::string>().rfind("toolu_mock", 0) == 0);
    CHECK(block["name"] == "get_weather");
    CHECK(block["input"] == arguments);

    SseResponse s = Stream(mock, "/v1/messages", MessagesBody(true), tool);
    CHECK(NamesOf(s) == Seq(kMessagesOpening, "content_block_delta", 3, kMessagesClosing));
    json start = DataOf(s, 1)["content_block"];
    CHECK(start["type"] == "tool_use");
    CHECK(start["name"] == "get_weather");
    CHECK(start["input"] == json::object());
    std::string partial;
    for (size_t i = 3; i < 6; ++i) {
      json delta = DataOf(s, i)["delta"];
      CHECK(delta["type"] == "input_json_delta");
      partial += delta["partial_json"].get<std::string>();
    }
    CHECK(json::parse(partial) == arguments);
    CHECK(DataOf(s, 7)["delta"]["stop_reason"] == "tool_use");
  }
  SECTION("Responses") {
    json r = PostJson(mock, "/v1/responses", ResponsesBody(), tool);
    CHECK(r["status"] == "completed");
    REQUIRE(r["output"].size() == 1);
    json item = r["output"][0];
    CHECK(item["type"] == "function_call");
    CHECK(item["id"].get<std::string>().rfind("fc_mock", 0) == 0);
    CHECK(item["call_id"].get<std::string>().rfind("call_mock", 0) == 0);
    CHECK(item["name"] == "get_weather");
    CHECK(item["status"] == "completed");
    CHECK(json::parse(item["arguments"].get<std::string>()) == arguments);

    SseResponse s = Stream(mock, "/v1/responses", ResponsesBody(true), tool);
    CHECK(NamesOf(s) ==
          Seq({"response.created", "response.in_progress", "response.output_item.added"},
              "response.function_call_arguments.delta", 3,
              {"response.function_call_arguments.done", "response.output_item.done",
               "response.completed"}));
    json added = DataOf(s, 2)["item"];
    CHECK(added["type"] == "function_call");
    CHECK(added["arguments"] == "");
    CHECK(added["status"] == "in_progress");
    std::string args;
    for (size_t i = 3; i < 6; ++i) {
      json e = DataOf(s, i);
      CHECK(e["item_id"] == added["id"]);
      CHECK(e["output_index"] == 0);
      args += e["delta"].get<std::string>();
    }
    CHECK(json::parse(args) == arguments);
    json done = DataOf(s, 6);
    CHECK(done["arguments"] == args);
    CHECK(done["name"] == "get_weather");
    CHECK(DataOf(s, 7)["item"]["arguments"] == args);
    CHECK(DataOf(s, 8)["response"]["output"][0]["call_id"] == added["call_id"]);
    for (size_t i = 0; i < s.all.size(); ++i) CHECK(DataOf(s, i)["sequence_number"] == i);
  }
}

TEST_CASE("mock usage knobs follow each API's cache accounting", "[mock]") {
  SECTION("x-mock-usage P,C,CACHED,CACHE_WRITE") {
    RunningMock mock = Start();
    const httplib::Headers usage = {{"x-mock-usage", "100,7,40,9"}};
    json r = PostJson(mock, "/v1/responses", ResponsesBody(), usage);
    // Responses: input_tokens is the total, cached tokens included; no cache writes.
    CHECK(r["usage"] == json::parse(R"({"input_tokens":100,"input_tokens_details":{
        "cached_tokens":40},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":0},
        "total_tokens":107})"));
    // Messages: input_tokens is the uncached part; cache reads and writes beside it.
    r = PostJson(mock, "/v1/messages", MessagesBody(), usage);
    CHECK(r["usage"] == json::parse(R"({"input_tokens":100,"cache_creation_input_tokens":9,
                                        "cache_read_input_tokens":40,"output_tokens":7})"));
    SseResponse s = Stream(mock, "/v1/messages", MessagesBody(true), usage);
    CHECK(DataOf(s, 0)["message"]["usage"] ==
          json::parse(R"({"input_tokens":100,"cache_creation_input_tokens":9,
                          "cache_read_input_tokens":40,"output_tokens":1})"));
    CHECK(DataOf(s, s.all.size() - 2)["usage"] == json({{"output_tokens", 7}}));
    s = Stream(mock, "/v1/responses", ResponsesBody(true), {{"x-mock-usage", "100,7,40"}});
    CHECK(DataOf(s, s.all.size() - 1)["response"]["usage"]["input_tokens_details"] ==
          json({{"cached_tokens", 40}}));
    // Chat reports the cached tokens when they are given.
    json chat = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    r = PostJson(mock, "/v1/chat/completions", chat, {{"x-mock-usage", "10,2,4"}});
    CHECK(r["usage"]["prompt_tokens_details"] == json({{"cached_tokens", 4}}));
    auto bad = Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-mock-usage", "1,2,3,4,5"}});
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(json::parse(bad->body)["error"]["type"] == "invalid_request_error");
  }
  SECTION("--usage-cached and --usage-cache-write") {
    RunningMock mock = Start({"--usage-prompt", "50", "--usage-completion", "5", "--usage-cached",
                              "20", "--usage-cache-write", "3"});
    json r = PostJson(mock, "/v1/responses", ResponsesBody());
    CHECK(r["usage"]["input_tokens"] == 50);
    CHECK(r["usage"]["input_tokens_details"]["cached_tokens"] == 20);
    CHECK(r["usage"]["total_tokens"] == 55);
    r = PostJson(mock, "/v1/messages", MessagesBody());
    CHECK(r["usage"] == json::parse(R"({"input_tokens":50,"cache_creation_input_tokens":3,
                                        "cache_read_input_tokens":20,"output_tokens":5})"));
  }
  SECTION("none: Responses reports null, Messages zeros") {
    RunningMock mock = Start({"--tokens", "2"});
    const httplib::Headers none = {{"x-mock-usage", "none"}};
    CHECK(PostJson(mock, "/v1/responses", ResponsesBody(), none)["usage"].is_null());
    SseResponse s = Stream(mock, "/v1/responses", ResponsesBody(true), none);
    CHECK(DataOf(s, s.all.size() - 1)["response"]["usage"].is_null());
    CHECK(PostJson(mock, "/v1/messages", MessagesBody(), none)["usage"] ==
          json::parse(R"({"input_tokens":0,"cache_creation_input_tokens":0,
                          "cache_read_input_tokens":0,"output_tokens":0})"));
  }
}

TEST_CASE("mock rejects bad agent requests in each API's error shape", "[mock]") {
  RunningMock mock = Start();
  auto openai_error = [&](const std::string& path, const std::string& body) {
    auto res = Post(mock, path, body);
    REQUIRE(res);
    CHECK(res->status == 400);
    json error = json::parse(res->body)["error"];
    CHECK(error["type"] == "invalid_request_error");
    CHECK(error["message"].is_string());
    CHECK(error.contains("code"));
    return error["param"];
  };
  CHECK(openai_error("/v1/responses", "{not json").is_null());
  CHECK(openai_error("/v1/responses", R"({"input":"hi"})") == "model");
  CHECK(openai_error("/v1/responses", R"({"model":"m"})") == "input");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":5})") == "input");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":{"role":"user"}})") == "input");
  CHECK(
      openai_error("/v1/responses", R"({"model":"m","input":[{"role":"robot","content":"x"}]})") ==
      "input[0].role");
  CHECK(openai_error(
            "/v1/responses",
            R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]})") ==
        "input[0].content[0].text");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":[7]})") == "input[0]");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":"x","stream":"yes"})") == "stream");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":"x","max_output_tokens":-1})") ==
        "max_output_tokens");
  CHECK(openai_error("/v1/responses", R"({"model":"m","input":"x","tools":{}})") == "tools");

  auto anthropic_error = [&](const std::string& path, const std::string& body) {
    auto res = Post(mock, path, body);
    REQUIRE(res);
    CHECK(res->status == 400);
    json b = json::parse(res->body);
    CHECK(b["type"] == "error");
    CHECK(b["error"]["type"] == "invalid_request_error");
    CHECK(b.size() == 2);
    CHECK(b["error"].size() == 2);
    return b["error"]["message"].get<std::string>();
  };
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  CHECK(anthropic_error("/v1/messages", "{not json").find("JSON") != std::string::npos);
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":5})") ==
        "messages: Field required");
  CHECK(anthropic_error("/v1/messages", R"({"model":"m",)" + msgs + "}") ==
        "max_tokens: Field required");
  CHECK(anthropic_error("/v1/messages?beta=true", R"({"max_tokens":5,)" + msgs + "}") ==
        "model: Field required");
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":5,"messages":"hi"})") ==
        "messages: Input should be a valid list");
  CHECK(anthropic_error(
            "/v1/messages",
            R"({"model":"m","max_tokens":5,"messages":[{"role":"bot","content":"x"}]})") ==
        "messages.0.role: Input should be 'user', 'assistant' or 'system'");
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":5,"messages":[{"role":"user",
                                         "content":[{"type":"text"}]}]})") ==
        "messages.0.content.0.text: Field required");
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":5,"messages":[{"role":"user",
                                         "content":[{"type":"video"}]}]})")
            .rfind("messages.0.content.0.type: ", 0) == 0);
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":5,"system":7,)" + msgs +
                                            "}") == "system: Input should be a valid list");
  CHECK(anthropic_error("/v1/messages", R"({"model":"m","max_tokens":0,)" + msgs + "}")
            .rfind("max_tokens: ", 0) == 0);
  // A bad control header answers in the endpoint's shape too.
  auto res = Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-mock-tokens", "many"}});
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["message"].get<std::string>().find("x-mock-tokens") !=
        std::string::npos);
}

TEST_CASE("mock status faults on the agent APIs use each API's error body", "[mock]") {
  RunningMock mock = Start();
  struct Case {
    std::string spec;
    int status;
    std::string anthropic_type;
  };
  const Case cases[] = {{"400", 400, "invalid_request_error"},
                        {"401", 401, "authentication_error"},
                        {"403", 403, "permission_error"},
                        {"404", 404, "not_found_error"},
                        {"429", 429, "rate_limit_error"},
                        {"500", 500, "api_error"},
                        {"502", 502, "api_error"},
                        {"503", 503, "api_error"},
                        {"529", 529, "overloaded_error"}};
  for (const Case& c : cases) {
    INFO(c.spec);
    for (const char* path : {"/v1/messages", "/v1/messages/count_tokens"}) {
      INFO(path);
      auto res = Post(mock, path, MessagesBody().dump(), {{"x-mock-fault", c.spec}});
      REQUIRE(res);
      CHECK(res->status == c.status);
      CHECK(res->get_header_value("Content-Type") == "application/json");
      json body = json::parse(res->body);
      CHECK(body["type"] == "error");
      CHECK(body["error"]["type"] == c.anthropic_type);
      CHECK(body["error"]["message"].is_string());
    }
    auto res = Post(mock, "/v1/responses", ResponsesBody().dump(), {{"x-mock-fault", c.spec}});
    REQUIRE(res);
    CHECK(res->status == c.status);
    json error = json::parse(res->body)["error"];
    CHECK(error["message"].is_string());
    CHECK(error["type"].is_string());
    CHECK(error.contains("param"));
    CHECK(error.contains("code"));
  }
  auto res = Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-mock-fault", "429:7"}});
  CHECK(res->get_header_value("retry-after") == "7");
  res = Post(mock, "/v1/responses", ResponsesBody().dump(), {{"x-mock-fault", "429"}});
  CHECK(res->get_header_value("retry-after") == "1");
  CHECK(json::parse(res->body)["error"]["code"] == "rate_limit_exceeded");
  // 529 is new for chat too (OpenAI shape there).
  res = Post(mock, "/v1/chat/completions",
             R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
             {{"x-mock-fault", "529"}});
  CHECK(res->status == 529);
  CHECK(json::parse(res->body)["error"]["type"] == "server_error");
  CHECK(mock.Stats()["faults"]["529"] == 4);
}

TEST_CASE("mock early faults on the agent APIs", "[mock]") {
  RunningMock mock = Start({"--tokens", "2"});
  for (const char* path : {"/v1/messages", "/v1/responses"}) {
    INFO(path);
    const std::string body =
        std::string(path) == "/v1/messages" ? MessagesBody().dump() : ResponsesBody().dump();
    auto res = Post(mock, path, body, {{"x-mock-fault", "redirect"}});
    REQUIRE(res);
    CHECK(res->status == 302);
    CHECK(res->get_header_value("Location") == "http://127.0.0.1:9/elsewhere");
    CHECK_FALSE(Post(mock, path, body, {{"x-mock-fault", "reset"}}));
    res = Post(mock, path, body, {{"x-mock-fault", "slow-first-byte:5"}});
    REQUIRE(res);
    CHECK(res->status == 200);
  }
  auto res = Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-mock-fault", "hang"}},
                  std::chrono::milliseconds(300));
  CHECK_FALSE(res);
  CHECK(res.error() == httplib::Error::Read);
  CHECK(mock.WaitForCounter("client_disconnects", 1));
  CHECK(mock.WaitForCounter("in_flight", 0));
}

TEST_CASE("mock stream faults on Messages streams", "[mock]") {
  RunningMock mock = Start({"--tokens", "5"});
  auto stream = [&](const std::string& fault) {
    return Stream(mock, "/v1/messages", MessagesBody(true), {{"x-mock-fault", fault}});
  };
  SseResponse s = stream("cut:2");
  CHECK(s.status == 200);
  CHECK(s.error != httplib::Error::Success);
  CHECK(NamesOf(s) == Seq(kMessagesOpening, "content_block_delta", 2));
  s = stream("cut:0");
  CHECK(s.status == 200);
  CHECK(s.all.empty());
  CHECK(s.error != httplib::Error::Success);

  s = stream("error-event:0");
  CHECK(s.error == httplib::Error::Success);
  CHECK(NamesOf(s) == Names{"error"});  // the error is the first event
  CHECK(DataOf(s, 0) == json::parse(R"({"type":"error","error":{"type":"overloaded_error",
                                        "message":"mock upstream error"}})"));
  s = stream("error-event:2");
  CHECK(NamesOf(s) == Seq(kMessagesOpening, "content_block_delta", 2, {"error"}));

  s = stream("malformed:1");
  CHECK(s.error == httplib::Error::Success);
  CHECK(NamesOf(s) == Seq(kMessagesOpening, "content_block_delta", 2));
  CHECK(json::parse(s.all.back().data, nullptr, false).is_discarded());

  s = stream("empty-stream");
  CHECK(s.status == 200);
  CHECK(s.content_type == "text/event-stream");
  CHECK(s.error == httplib::Error::Success);
  CHECK(s.raw.empty());

  s = Stream(mock, "/v1/messages", MessagesBody(true), {{"x-mock-fault", "stall:1"}},
             [](const SseResponse& r) { return r.all.size() == 4; });
  CHECK(NamesOf(s) == Seq(kMessagesOpening, "content_block_delta", 1));
  CHECK(s.error == httplib::Error::Canceled);
  // error-event, malformed and empty-stream complete; cut and stall do not.
  CHECK(mock.WaitForStats([](const json& st) {
    return st["streams_started"] == 7 && st["streams_completed"] == 4 &&
           st["client_disconnects"] == 1 && st["in_flight"] == 0;
  }));
  CHECK(mock.Stats()["faults"]["cut:2"] == 1);
}

TEST_CASE("mock stream faults on Responses streams", "[mock]") {
  RunningMock mock = Start({"--tokens", "5"});
  auto stream = [&](const std::string& fault) {
    return Stream(mock, "/v1/responses", ResponsesBody(true), {{"x-mock-fault", fault}});
  };
  SseResponse s = stream("cut:2");
  CHECK(s.error != httplib::Error::Success);
  CHECK(NamesOf(s) == Seq(kResponsesOpening, "response.output_text.delta", 2));

  s = stream("error-event");
  CHECK(NamesOf(s) == Names{"error"});
  CHECK(DataOf(s, 0) == json::parse(R"({"type":"error","code":"server_error",
      "message":"mock upstream error","param":null,"sequence_number":0})"));
  s = stream("error-event:2");
  CHECK(s.error == httplib::Error::Success);
  CHECK(NamesOf(s) == Seq(kResponsesOpening, "response.output_text.delta", 2, {"error"}));
  CHECK(DataOf(s, 6)["sequence_number"] == 6);

  s = stream("malformed:1");
  CHECK(NamesOf(s) == Seq(kResponsesOpening, "response.output_text.delta", 2));
  CHECK(json::parse(s.all.back().data, nullptr, false).is_discarded());

  s = stream("empty-stream");
  CHECK(s.status == 200);
  CHECK(s.raw.empty());

  s = Stream(mock, "/v1/responses", ResponsesBody(true), {{"x-mock-fault", "stall:1"}},
             [](const SseResponse& r) { return r.all.size() == 5; });
  CHECK(NamesOf(s) == Seq(kResponsesOpening, "response.output_text.delta", 1));
  CHECK(mock.WaitForStats([](const json& st) {
    return st["streams_started"] == 6 && st["streams_completed"] == 4 &&
           st["client_disconnects"] == 1 && st["in_flight"] == 0;
  }));
}

TEST_CASE("mock plain-body faults on the agent APIs", "[mock]") {
  RunningMock mock = Start({"--tokens", "5"});
  auto res = Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-mock-fault", "error-event"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body) == json::parse(R"({"type":"error","error":{
      "type":"overloaded_error","message":"mock upstream error"}})"));
  res = Post(mock, "/v1/responses", ResponsesBody().dump(), {{"x-mock-fault", "error-event"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["error"]["code"] == "mock_error");
  for (const char* path : {"/v1/messages", "/v1/responses"}) {
    INFO(path);
    const std::string body =
        std::string(path) == "/v1/messages" ? MessagesBody().dump() : ResponsesBody().dump();
    res = Post(mock, path, body, {{"x-mock-fault", "malformed"}});
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK_FALSE(res->body.empty());
    CHECK(json::parse(res->body, nullptr, false).is_discarded());
    res = Post(mock, path, body, {{"x-mock-fault", "empty-stream"}});
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.empty());
    CHECK_FALSE(Post(mock, path, body, {{"x-mock-fault", "cut:1"}}));
  }
  res = Post(mock, "/v1/messages/count_tokens", MessagesBody().dump(),
             {{"x-mock-fault", "error-event"}});
  REQUIRE(res);
  CHECK(json::parse(res->body)["error"]["type"] == "overloaded_error");
  CHECK(mock.WaitForCounter("in_flight", 0));
}

TEST_CASE("mock --api-key accepts x-api-key and answers 401 in Anthropic shape", "[mock]") {
  RunningMock mock = Start({"--api-key", "sk-upstream"});
  auto res = Post(mock, "/v1/messages", MessagesBody().dump());
  REQUIRE(res);
  CHECK(res->status == 401);
  CHECK(json::parse(res->body) == json::parse(R"({"type":"error","error":{
      "type":"authentication_error","message":"invalid x-api-key"}})"));
  CHECK(Post(mock, "/v1/messages", MessagesBody().dump(), {{"x-api-key", "wrong"}})->status == 401);
  CHECK(Post(mock, "/v1/messages?beta=true", MessagesBody().dump(), {{"x-api-key", "sk-upstream"}})
            ->status == 200);
  CHECK(Post(mock, "/v1/messages/count_tokens", MessagesBody().dump(), {{"x-api-key", "bad"}})
            ->status == 401);
  res = Post(mock, "/v1/responses", ResponsesBody().dump());
  CHECK(res->status == 401);
  CHECK(json::parse(res->body)["error"]["code"] == "invalid_api_key");
  CHECK(
      Post(mock, "/v1/responses", ResponsesBody().dump(), {{"Authorization", "Bearer sk-upstream"}})
          ->status == 200);
  // x-api-key works for the OpenAI endpoints as well.
  CHECK(Post(mock, "/v1/chat/completions",
             R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
             {{"x-api-key", "sk-upstream"}})
            ->status == 200);
}

TEST_CASE("mock stats count agent endpoints and last-request keeps the query", "[mock]") {
  RunningMock mock = Start({"--tokens", "2"});
  const std::string body = MessagesBody().dump();
  REQUIRE(Post(mock, "/v1/messages?beta=true", body, {{"anthropic-version", "2023-06-01"}}));
  json last = mock.LastRequest();
  CHECK(last["method"] == "POST");
  CHECK(last["path"] == "/v1/messages?beta=true");
  CHECK(last["headers"]["anthropic-version"] == "2023-06-01");
  CHECK(last["body"] == body);  // raw, byte for byte
  REQUIRE(Post(mock, "/v1/chat/completions?x=1&y=two",
               R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"));
  CHECK(mock.LastRequest()["path"] == "/v1/chat/completions?x=1&y=two");
  REQUIRE(Post(mock, "/v1/messages/count_tokens", body));
  Stream(mock, "/v1/responses", ResponsesBody(true));
  Stream(mock, "/v1/messages", MessagesBody(true));
  CHECK(mock.LastRequest()["path"] == "/v1/messages");
  CHECK(mock.WaitForStats([](const json& s) {
    return s["requests"] == 5 && s["chat"] == 1 && s["responses"] == 1 && s["messages"] == 2 &&
           s["count_tokens"] == 1 && s["streams_started"] == 2 && s["streams_completed"] == 2 &&
           s["in_flight"] == 0;
  }));
  mock.ResetStats();
  json stats = mock.Stats();
  CHECK(stats["responses"] == 0);
  CHECK(stats["messages"] == 0);
  CHECK(stats["count_tokens"] == 0);
}

}  // namespace
}  // namespace signalbox::testing
