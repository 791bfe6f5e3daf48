#include "openai/request.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "openai/error.h"
#include "openai/response.h"

using namespace signalbox;

namespace {

std::optional<ApiError> Parse(Endpoint e, const std::string& body, ParsedRequest* out = nullptr) {
  ParsedRequest tmp;
  return ParseRequest(e, body, out ? out : &tmp);
}

}  // namespace

TEST_CASE("bad chat bodies get a 400 naming the field", "[openai][request]") {
  struct Case {
    std::string body, param, code;
  };
  std::vector<Case> cases = {
      {R"({"model":)", "", "invalid_json"},
      {"", "", "invalid_json"},
      {"[1]", "", "invalid_json"},
      {R"({"messages":[{"role":"user","content":"hi"}]})", "model", "missing_field"},
      {R"({"model":5,"messages":[]})", "model", "invalid_type"},
      {R"({"model":"auto"})", "messages", "missing_field"},
      {R"({"model":"auto","messages":"hi"})", "messages", "invalid_type"},
      {R"({"model":"auto","messages":[]})", "messages", "invalid_value"},
      {R"({"model":"auto","messages":[{"content":"hi"}]})", "messages[0].role", "missing_field"},
      {R"({"model":"auto","messages":[{"role":"wizard","content":"hi"}]})", "messages[0].role",
       "invalid_value"},
      {R"({"model":"auto","messages":[{"role":"user","content":5}]})", "messages[0].content",
       "invalid_type"},
      {R"({"model":"auto","messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type", "missing_field"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"max_tokens":-1})",
       "max_tokens", "invalid_value"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"max_tokens":1000000000000})",
       "max_tokens", "invalid_value"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5})",
       "max_tokens", "invalid_type"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"stream":"yes"})", "stream",
       "invalid_type"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":"y"}})",
       "stream_options.include_usage", "invalid_type"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"n":0})", "n",
       "invalid_value"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"tools":{}})", "tools",
       "invalid_type"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"api_base":"http://evil"})",
       "api_base", "unsupported_parameter"},
      {R"({"model":"auto","model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})", "model",
       "duplicate_key"},
      {R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})",
       "temperature", "invalid_type"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto err = Parse(Endpoint::kChat, c.body);
    REQUIRE(err);
    CHECK(err->status == 400);
    CHECK(err->type == "invalid_request_error");
    CHECK(err->param == c.param);
    CHECK(err->code == c.code);
    auto body = nlohmann::json::parse(ErrorBody(*err));
    CHECK(body["error"].contains("message"));
    CHECK(body["error"].contains("type"));
    CHECK(body["error"].contains("param"));
    CHECK(body["error"].contains("code"));
  }
}

TEST_CASE("deep nesting is refused before parsing", "[openai][request]") {
  std::string deep = R"({"model":"auto","messages":)" + std::string(100000, '[');
  auto err = Parse(Endpoint::kChat, deep);
  REQUIRE(err);
  CHECK(err->code == "invalid_json");
}

TEST_CASE("a chat body yields the classifier's view of the conversation", "[openai][request]") {
  ParsedRequest req;
  auto err = Parse(Endpoint::kChat,
                   R"({"model":"auto","stream":true,"stream_options":{"include_usage":true},
    "max_completion_tokens":300,"max_tokens":50,
    "messages":[{"role":"system","content":"be brief"},
                {"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:x"}}]},
                {"role":"assistant","content":null,"tool_calls":[]},
                {"role":"tool","tool_call_id":"1","content":"42"}],
    "tools":[{"type":"function","function":{"name":"f"}}],
    "response_format":{"type":"json_object"}})",
                   &req);
  REQUIRE_FALSE(err);
  CHECK(req.model == "auto");
  CHECK(req.stream);
  CHECK(req.include_usage);
  CHECK(req.max_tokens == 300);
  CHECK(req.has_tools);
  CHECK(req.has_images);
  CHECK(req.classify.num_messages == 4);
  CHECK(req.classify.num_tools == 1);
  CHECK(req.classify.structured_output);
  REQUIRE(req.classify.parts.size() == 3);
  CHECK(req.classify.parts[0].role == classify::Role::kSystem);
  CHECK(req.classify.parts[1].text == "what is this?");
  CHECK(req.classify.parts[2].role == classify::Role::kTool);
  // Views stay valid when the request is moved.
  ParsedRequest moved = std::move(req);
  CHECK(moved.classify.parts[1].text == "what is this?");
}

TEST_CASE("completions and embeddings validate their own fields", "[openai][request]") {
  CHECK(Parse(Endpoint::kCompletions, R"({"model":"m"})")->param == "prompt");
  CHECK_FALSE(Parse(Endpoint::kCompletions, R"({"model":"m","prompt":["a","b"]})"));
  CHECK(Parse(Endpoint::kEmbeddings, R"({"model":"m"})")->param == "input");
  CHECK(Parse(Endpoint::kEmbeddings, R"({"model":"m","input":[]})")->param == "input");
  ParsedRequest req;
  CHECK_FALSE(Parse(Endpoint::kEmbeddings, R"({"model":"m","input":["abcd","ef"]})", &req));
  CHECK(req.embedding_input_chars == 6);
}

TEST_CASE("stream chunks: usage, errors and output size", "[openai][response]") {
  auto u =
      InspectChunk(R"({"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}})");
  CHECK(u.usage_only);
  REQUIRE(u.usage);
  CHECK(u.usage->prompt_tokens == 7);
  CHECK(u.usage->completion_tokens == 3);
  auto vllm = InspectChunk(
      R"({"id":"x","choices":null,"usage":{"prompt_tokens":0,"completion_tokens":0}})");
  CHECK(vllm.usage_only);
  CHECK(vllm.usage->completion_tokens == 0);
  auto content =
      InspectChunk(R"({"choices":[{"index":0,"delta":{"content":"hello"}}],"usage":null})");
  CHECK_FALSE(content.usage_only);
  CHECK_FALSE(content.usage);
  CHECK(content.output_chars == 5);
  auto err = InspectChunk(R"({"error":{"message":"boom","type":"server_error"}})");
  CHECK(err.is_error);
  CHECK(err.error_message == "boom");
  // An error chunk with empty choices is an error, never a usage chunk.
  auto err2 = InspectChunk(R"({"choices":[],"error":{"message":"quota"}})");
  CHECK(err2.is_error);
  CHECK_FALSE(err2.usage_only);
  CHECK_FALSE(InspectChunk("{broken").parsed);
  CHECK(
      UsageFromBody(R"({"usage":{"prompt_tokens":0,"completion_tokens":0}})")->completion_tokens ==
      0);
  CHECK_FALSE(UsageFromBody(R"({"choices":[]})"));
}

TEST_CASE(
    "a number beyond a double anywhere in a body is a 400, never a 500, and the "
    "message does not quote the literal",
    "[openai][request][security]") {
  std::string huge(5000, '9');
  for (Endpoint ep : {Endpoint::kChat, Endpoint::kCompletions, Endpoint::kEmbeddings}) {
    for (
        const std::string& body :
        {std::string(
             R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"temperature":1e400})"),
         std::string(R"({"model":"auto","prompt":"hi","input":"x","seed":)") + huge + "}",
         std::string(R"({"model":"auto","input":"x","x":[-1e999]})")}) {
      auto e = Parse(ep, body);
      REQUIRE(e);
      CHECK(e->status == 400);
      CHECK(e->type == "invalid_request_error");
      CHECK(e->code == "invalid_json");
      CHECK(e->message.find("999") == std::string::npos);
      CHECK(e->message.size() < 200);
    }
  }
}

TEST_CASE(
    "the admission estimate counts billed input beyond the text: token-id prompts, "
    "tools, tool calls, non-text parts and every image",
    "[openai][request][budget]") {
  SECTION("a completions prompt of token ids counts one token per id") {
    std::string ids;
    for (int i = 0; i < 250000; ++i) ids += (i ? "," : "") + std::to_string(i % 50000);
    ParsedRequest r;
    REQUIRE_FALSE(Parse(Endpoint::kCompletions,
                        R"({"model":"auto","max_tokens":1,"prompt":[)" + ids + "]}", &r));
    CHECK(r.extra_input_tokens == 250000);
    ParsedRequest r2;
    REQUIRE_FALSE(
        Parse(Endpoint::kCompletions, R"({"model":"auto","prompt":[[1,2,3],[4,5]]})", &r2));
    CHECK(r2.extra_input_tokens == 5);
  }
  SECTION("1.5 MB of tool schemas count by size") {
    std::string desc(1500000, 'a');
    ParsedRequest r;
    REQUIRE_FALSE(Parse(
        Endpoint::kChat,
        R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":")" +
            desc + R"("}}]})",
        &r));
    CHECK(r.extra_input_tokens >= 1500000 / 4);
    CHECK(r.extra_input_tokens < 1500000 / 3);
  }
  SECTION("an input_audio part counts by size; images count one each") {
    std::string audio(1 << 20, 'A');
    ParsedRequest r;
    REQUIRE_FALSE(Parse(
        Endpoint::kChat,
        R"({"model":"auto","messages":[{"role":"user","content":[{"type":"text","text":"hi"},)"
        R"({"type":"input_audio","input_audio":{"data":")" +
            audio +
            R"(","format":"wav"}},)"
            R"({"type":"image_url","image_url":{"url":"https://a/b.png"}},)"
            R"({"type":"image_url","image_url":{"url":"https://a/c.png"}}]}]})",
        &r));
    CHECK(r.extra_input_tokens >= (1 << 20) / 4);
    CHECK(r.images == 2);
  }
  SECTION("assistant tool calls are billed input of the next turn") {
    std::string args(40000, 'x');
    ParsedRequest r;
    REQUIRE_FALSE(Parse(
        Endpoint::kChat,
        R"({"model":"auto","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,)"
        R"("tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":")" +
            args + R"("}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]})",
        &r));
    CHECK(r.extra_input_tokens >= 10000);
  }
  SECTION("a plain text chat adds nothing") {
    ParsedRequest r;
    REQUIRE_FALSE(Parse(Endpoint::kChat,
                        R"({"model":"auto","messages":[{"role":"user","content":"hi"}]})", &r));
    CHECK(r.extra_input_tokens == 0);
    CHECK(r.images == 0);
  }
}
