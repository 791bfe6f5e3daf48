#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "openai/request.h"

namespace signalbox {
namespace {

std::optional<ApiError> Parse(Endpoint ep, const std::string& body, ParsedRequest* out) {
  return ParseRequest(ep, body, out);
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream f(std::string(SIGNALBOX_SOURCE_DIR) + "/tests/testdata/agent_bodies/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The text of the classifier parts with `role`, joined.
std::string Texts(const ParsedRequest& r, classify::Role role) {
  std::string out;
  for (const auto& p : r.classify.parts) {
    if (p.role == role) out += std::string(p.text) + "|";
  }
  return out;
}

}  // namespace

TEST_CASE("a Responses body: instructions, input items, tools, output cap and previous id",
          "[openai][agent]") {
  ParsedRequest r;
  auto e = Parse(Endpoint::kResponses, R"({
    "model": "auto", "instructions": "be brief", "max_output_tokens": 300, "stream": true,
    "previous_response_id": "resp_1",
    "input": [
      {"role": "user", "content": "first question"},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "an answer"}]},
      {"type": "function_call", "call_id": "c1", "name": "ls", "arguments": "{\"path\":\".\"}"},
      {"type": "function_call_output", "call_id": "c1", "output": "a.txt b.txt"},
      {"role": "user", "content": [{"type": "input_text", "text": "now fix it"},
                                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}
    ],
    "tools": [{"type": "function", "name": "ls", "parameters": {"type": "object"}}]
  })",
                 &r);
  REQUIRE_FALSE(e);
  CHECK(r.model == "auto");
  CHECK(r.stream);
  CHECK(r.max_tokens == 300);
  CHECK(r.previous_response_id == "resp_1");
  CHECK(r.has_tools);
  CHECK(r.classify.num_tools == 1);
  CHECK(r.has_images);
  CHECK(r.images == 1);
  CHECK(Texts(r, classify::Role::kSystem) == "be brief|");
  CHECK(Texts(r, classify::Role::kUser) == "first question|now fix it|");
  CHECK(Texts(r, classify::Role::kAssistant) == "an answer|");
  CHECK(Texts(r, classify::Role::kTool) == "a.txt b.txt|");
  CHECK(r.extra_input_tokens > 0);  // the function_call item and the tool schema are billed
}

TEST_CASE(
    "a Responses body with a string input, and bad Responses bodies get a 400 naming the "
    "field",
    "[openai][agent]") {
  ParsedRequest ok;
  REQUIRE_FALSE(Parse(Endpoint::kResponses, R"({"model":"auto","input":"hello"})", &ok));
  CHECK(Texts(ok, classify::Role::kUser) == "hello|");
  CHECK(ok.max_tokens == -1);

  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({"input":"hi"})", "model"},
      {R"({"model":"auto","input":42})", "input"},
      {R"({"model":"auto"})", "input"},
      {R"({"model":"auto","input":[7]})", "input[0]"},
      {R"({"model":"auto","input":[{"role":"tool","content":"x"}]})", "input[0].role"},
      {R"({"model":"auto","input":"x","max_output_tokens":0})", "max_output_tokens"},
      {R"({"model":"auto","input":"x","stream":"yes"})", "stream"},
      {R"({"model":"auto","input":"x","tools":{}})", "tools"},
  };
  for (const auto& c : cases) {
    ParsedRequest r;
    auto e = Parse(Endpoint::kResponses, c.body, &r);
    INFO(c.body);
    REQUIRE(e);
    CHECK(e->status == 400);
    CHECK(e->param == c.param);
  }
}

TEST_CASE("a Messages body: system, blocks, tool results as tool turns, images, max_tokens",
          "[openai][agent]") {
  ParsedRequest r;
  auto e = Parse(Endpoint::kMessages, R"({
    "model": "auto", "max_tokens": 1024, "stream": true,
    "system": [{"type": "text", "text": "you are a coder"}],
    "messages": [
      {"role": "user", "content": "look at main.c"},
      {"role": "assistant", "content": [{"type": "text", "text": "reading"},
         {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "main.c"}}]},
      {"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "int main(){}"}]},
         {"type": "text", "text": "<system-reminder>stay on task</system-reminder>"},
         {"type": "text", "text": "refactor it"},
         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}
    ],
    "tools": [{"name": "read", "input_schema": {"type": "object"}}, {"name": "write", "input_schema": {}}]
  })",
                 &r);
  REQUIRE_FALSE(e);
  CHECK(r.max_tokens == 1024);
  CHECK(r.classify.num_tools == 2);
  CHECK(r.images == 1);
  CHECK(Texts(r, classify::Role::kSystem) == "you are a coder|");
  CHECK(Texts(r, classify::Role::kTool) == "int main(){}|");
  CHECK(Texts(r, classify::Role::kUser) ==
        "look at main.c|<system-reminder>stay on task</system-reminder>|refactor it|");
  CHECK(Texts(r, classify::Role::kAssistant) == "reading|");
  CHECK(r.extra_input_tokens > 0);  // tool_use input and the schemas
}

TEST_CASE("bad Messages bodies get a 400 naming the field, and count_tokens needs no max_tokens",
          "[openai][agent]") {
  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({"model":"auto","max_tokens":10})", "messages"},
      {R"({"model":"auto","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"auto","max_tokens":10,"messages":"x"})", "messages"},
      {R"({"model":"auto","max_tokens":10,"messages":[]})", "messages"},
      {R"({"model":"auto","max_tokens":10,"messages":[{"role":"bot","content":"x"}]})",
       "messages[0].role"},
      {R"({"model":"auto","max_tokens":10,"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"auto","max_tokens":10,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type"},
  };
  for (const auto& c : cases) {
    ParsedRequest r;
    auto e = Parse(Endpoint::kMessages, c.body, &r);
    INFO(c.body);
    REQUIRE(e);
    CHECK(e->status == 400);
    CHECK(e->param == c.param);
  }
  ParsedRequest count;
  CHECK_FALSE(Parse(Endpoint::kCountTokens,
                    R"({"model":"auto","messages":[{"role":"user","content":"x"}]})", &count));
  ParsedRequest stream;
  auto e = Parse(Endpoint::kCountTokens,
                 R"({"model":"auto","stream":true,"messages":[{"role":"user","content":"x"}]})",
                 &stream);
  REQUIRE(e);
  CHECK(e->param == "stream");
}

TEST_CASE("the real Claude Code and Codex bodies parse, with their tools counted",
          "[openai][agent]") {
  struct Case {
    const char* file;
    Endpoint ep;
    int min_tools;
  } cases[] = {
      {"claude_code_trivial.json", Endpoint::kMessages, 10},
      {"claude_code_review.json", Endpoint::kMessages, 10},
      {"codex_trivial.json", Endpoint::kResponses, 10},  // tools in an additional_tools item
      {"codex_review.json", Endpoint::kResponses, 10},
      {"codex_trivial_fallback_model.json", Endpoint::kResponses, 5},
  };
  for (const auto& c : cases) {
    std::string body = ReadTestdata(c.file);
    INFO(c.file);
    REQUIRE(body.size() > 10000);
    ParsedRequest r;
    auto e = Parse(c.ep, body, &r);
    INFO((e ? e->message : std::string()));
    REQUIRE_FALSE(e);
    CHECK(r.has_tools);
    CHECK(r.classify.num_tools >= c.min_tools);
    CHECK(DetectEndpoint(r.doc) == c.ep);
    // The ask is in the user text the parts hold.
    CHECK(Texts(r, classify::Role::kUser).size() > 0);
  }
}

TEST_CASE("DetectEndpoint tells Responses, Messages and chat bodies apart", "[openai][agent]") {
  using nlohmann::json;
  CHECK(DetectEndpoint(json::parse(R"({"model":"a","input":"x"})")) == Endpoint::kResponses);
  CHECK(DetectEndpoint(json::parse(R"({"model":"a","instructions":"x"})")) == Endpoint::kResponses);
  CHECK(DetectEndpoint(json::parse(R"({"model":"a","system":"s","messages":[]})")) ==
        Endpoint::kMessages);
  CHECK(
      DetectEndpoint(json::parse(
          R"({"model":"a","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]})")) ==
      Endpoint::kMessages);
  CHECK(DetectEndpoint(json::parse(
            R"({"model":"a","messages":[{"role":"user","content":"x"}]})")) == Endpoint::kChat);
  CHECK(DetectEndpoint(json::parse(R"([1])")) == Endpoint::kChat);
}

}  // namespace signalbox
