#include "openai/stream_inspector.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace signalbox {
namespace {

using Kind = EventInfo::Kind;

EventInfo Feed(StreamInspector& s, std::string_view event, std::string_view data) {
  return s.Inspect(SseEvent{event, data});
}

// The data of an SSE event text (one data line).
nlohmann::json DataOf(const std::string& sse) {
  auto pos = sse.find("data: ");
  REQUIRE(pos != std::string::npos);
  return nlohmann::json::parse(sse.substr(pos + 6, sse.find('\n', pos) - pos - 6));
}

}  // namespace

TEST_CASE("Messages events: usage from message_start and message_delta, cache tokens, terminal",
          "[openai][agent]") {
  StreamInspector s(Endpoint::kMessages);
  CHECK(s.requires_terminal());
  auto start = Feed(s, "message_start",
                    R"({"type":"message_start","message":{"id":"msg_1","type":"message",)"
                    R"("content":[],"usage":{"input_tokens":100,"cache_read_input_tokens":40,)"
                    R"("cache_creation_input_tokens":10,"output_tokens":1}}})");
  CHECK(start.kind == Kind::kContent);
  REQUIRE(s.usage());
  CHECK(s.usage()->prompt_tokens == 150);  // Anthropic's input_tokens excludes the cache
  CHECK(s.usage()->cached_tokens == 40);
  CHECK(s.usage()->cache_write_tokens == 10);
  CHECK(Feed(s, "ping", R"({"type":"ping"})").kind == Kind::kContent);
  auto delta = Feed(
      s, "content_block_delta",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}})");
  CHECK(delta.output_chars == 5);
  auto json_delta = Feed(
      s, "content_block_delta",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})");
  CHECK(json_delta.output_chars == 5);
  Feed(
      s, "message_delta",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}})");
  CHECK(s.usage()->completion_tokens == 42);
  CHECK(s.usage()->prompt_tokens == 150);
  CHECK(Feed(s, "message_stop", R"({"type":"message_stop"})").kind == Kind::kTerminal);
  // Unknown event types pass as content.
  CHECK(Feed(s, "brand_new_event", R"({"type":"brand_new_event","x":1})").kind == Kind::kContent);
}

TEST_CASE("Messages error events and broken data", "[openai][agent]") {
  StreamInspector s(Endpoint::kMessages);
  auto err = Feed(s, "error",
                  R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  CHECK(err.kind == Kind::kError);
  CHECK(err.error_message == "Overloaded");
  CHECK(Feed(s, "content_block_delta", "{not json").kind == Kind::kMalformed);
  auto ev = s.ErrorEvent("cut short", "stream_interrupted");
  CHECK(ev.rfind("event: error\n", 0) == 0);
  auto j = DataOf(ev);
  CHECK(j["type"] == "error");
  CHECK(j["error"]["type"] == "api_error");
  CHECK(j["error"]["message"] == "cut short");
}

TEST_CASE("Responses events: id, usage with cached tokens, deltas, terminal and error events",
          "[openai][agent]") {
  StreamInspector s(Endpoint::kResponses);
  Feed(
      s, "response.created",
      R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_9","status":"in_progress","output":[]}})");
  CHECK(s.response_id() == "resp_9");
  CHECK_FALSE(s.usage());
  auto d = Feed(s, "response.output_text.delta",
                R"({"type":"response.output_text.delta","sequence_number":3,"delta":"abc"})");
  CHECK(d.kind == Kind::kContent);
  CHECK(d.output_chars == 3);
  auto args =
      Feed(s, "response.function_call_arguments.delta",
           R"({"type":"response.function_call_arguments.delta","sequence_number":4,"delta":"{}"})");
  CHECK(args.output_chars == 2);
  auto done = Feed(
      s, "response.completed",
      R"({"type":"response.completed","sequence_number":5,"response":{"id":"resp_9","status":"completed",)"
      R"("output":[],"usage":{"input_tokens":80,"input_tokens_details":{"cached_tokens":30},"output_tokens":7}}})");
  CHECK(done.kind == Kind::kTerminal);
  REQUIRE(s.usage());
  CHECK(s.usage()->prompt_tokens == 80);  // OpenAI's input_tokens includes the cached ones
  CHECK(s.usage()->cached_tokens == 30);
  CHECK(s.usage()->completion_tokens == 7);
  auto j = DataOf(s.ErrorEvent("cut", "stream_interrupted"));
  CHECK(j["type"] == "error");
  CHECK(j["code"] == "stream_interrupted");
  CHECK(j["message"] == "cut");
  CHECK(j["sequence_number"] == 6);

  StreamInspector f(Endpoint::kResponses);
  auto failed = Feed(
      f, "response.failed",
      R"({"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}})");
  CHECK(failed.kind == Kind::kError);
  CHECK(failed.error_message == "boom");
  CHECK(Feed(f, "error", R"({"type":"error","code":"x","message":"bad"})").error_message == "bad");
  CHECK(Feed(f, "response.incomplete", R"({"type":"response.incomplete","response":{}})").kind ==
        Kind::kTerminal);
}

TEST_CASE("chat chunks: [DONE] is the terminal, the usage chunk is usage-only, no terminal needed",
          "[openai][agent]") {
  StreamInspector s(Endpoint::kChat);
  CHECK_FALSE(s.requires_terminal());
  CHECK(Feed(s, "", R"({"choices":[{"delta":{"content":"hi"}}]})").kind == Kind::kContent);
  CHECK(Feed(s, "", R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}})").kind ==
        Kind::kUsageOnly);
  CHECK(s.usage()->prompt_tokens == 3);
  CHECK(Feed(s, "", "[DONE]").kind == Kind::kTerminal);
  CHECK(Feed(s, "", R"({"error":{"message":"x"}})").kind == Kind::kError);
  auto j = DataOf(s.ErrorEvent("m", "stream_interrupted"));
  CHECK(j["error"]["code"] == "stream_interrupted");
}

TEST_CASE("plain agent bodies: usable answers, usage, response id, and error bodies",
          "[openai][agent]") {
  auto msg = InspectBodyFor(
      Endpoint::kMessages,
      R"({"id":"msg_1","type":"message","content":[{"type":"text","text":"hello"}],)"
      R"("usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3}})");
  CHECK(msg.usable);
  REQUIRE(msg.usage);
  CHECK(msg.usage->prompt_tokens == 15);
  CHECK(msg.usage->cached_tokens == 5);
  CHECK(msg.output_chars == 5);
  CHECK_FALSE(InspectBodyFor(Endpoint::kMessages,
                             R"({"type":"error","error":{"type":"api_error","message":"x"}})")
                  .usable);
  auto resp = InspectBodyFor(
      Endpoint::kResponses,
      R"({"id":"resp_2","object":"response","status":"completed","output":[{"type":"message",)"
      R"("content":[{"type":"output_text","text":"abcd"}]}],"usage":{"input_tokens":9,"output_tokens":2}})");
  CHECK(resp.usable);
  CHECK(resp.response_id == "resp_2");
  CHECK(resp.output_chars == 4);
  CHECK(resp.usage->prompt_tokens == 9);
  CHECK_FALSE(InspectBodyFor(Endpoint::kResponses,
                             R"({"id":"r","status":"failed","output":[],"error":{"message":"x"}})")
                  .usable);
  CHECK(InspectBodyFor(Endpoint::kCountTokens, R"({"input_tokens":12})").usable);
  CHECK_FALSE(InspectBodyFor(Endpoint::kCountTokens, R"({"tokens":12})").usable);
}

}  // namespace signalbox
