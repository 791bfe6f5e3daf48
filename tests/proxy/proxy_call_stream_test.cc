// ProxyCall relaying streams (chat and Messages) from a scripted transport: the relay,
// the commit point, the held terminal event and the in-band error, without a socket.
#include <catch2/catch.hpp>

#include "proxy/proxy_call_harness.h"

using namespace signalbox;
using namespace signalbox::testing;

TEST_CASE("a stream is relayed as it arrives and its end waits for the settled spend",
          "[proxy][proxy_call]") {
  Harness h;
  std::string first = Chunk("Hel");
  h.transport.Script("small", FakeAnswer::Sse({first.substr(0, 10), first.substr(10) + Chunk("lo"),
                                               UsageChunk(1000, 500), "data: [DONE]\n\n"}));
  FakeExchange ex;
  int64_t spent_at_done = -1;
  ex.on_write = [&](std::string_view d) {
    if (d.find("[DONE]") != std::string_view::npos) spent_at_done = h.Spent();
  };
  ProxyResult r = h.Send(ex, ChatBody(true));

  CHECK(ex.status == 200);
  CHECK(ex.content_type == "text/event-stream");
  CHECK(ex.out == Chunk("Hel") + Chunk("lo") + "data: [DONE]\n\n");  // no usage: not asked
  CHECK(ex.ended);
  CHECK(spent_at_done == 2'000'000);
  CHECK(r.output_tokens == 500);
  CHECK_FALSE(r.attempts[0].estimated);
}

TEST_CASE("a stream cut after its first event ends with an in-band error and no fallback",
          "[proxy][proxy_call]") {
  Harness h;
  FakeAnswer cut = FakeAnswer::Sse({Chunk("partial answer")});
  cut.error = CallError::kReset;
  h.transport.Script("small", cut);
  h.transport.Script("large", FakeAnswer::Sse({Chunk("never"), "data: [DONE]\n\n"}));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(true));

  CHECK(h.transport.seen.size() == 1);
  CHECK(ex.status == 200);
  CHECK(ex.out.rfind(Chunk("partial answer"), 0) == 0);
  CHECK(ex.out.find("[DONE]") == std::string::npos);
  CHECK(ex.out.find("\"code\":\"upstream_stream_interrupted\"") != std::string::npos);
  CHECK(ex.ended);  // a clean chunked end: the SDK reads the error event
  CHECK(r.error == "upstream_stream_interrupted");
  REQUIRE(r.attempts.size() == 1);
  CHECK(r.attempts[0].billed);
  CHECK(r.attempts[0].estimated);  // no usage arrived: billed by what was relayed
}

TEST_CASE("an error as a stream's first event is never shown: the next candidate answers",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script("small", FakeAnswer::Sse({R"(data: {"error":{"message":"overloaded"}})"
                                               "\n\n"}));
  h.transport.Script("small", FakeAnswer::Sse({R"(data: {"error":{"message":"overloaded"}})"
                                               "\n\n"}));
  h.transport.Script("large", FakeAnswer::Sse({Chunk("fine"), "data: [DONE]\n\n"}));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(true));

  CHECK(ex.out == Chunk("fine") + "data: [DONE]\n\n");
  REQUIRE(r.attempts.size() == 3);
  CHECK(r.attempts[0].outcome == "bad_first_event");
  CHECK(r.attempts[2].outcome == "ok");
}

TEST_CASE("a Messages stream that ends without message_stop is cut, in Anthropic's error event",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script(
      "small",
      FakeAnswer::Sse(
          {"event: message_start\ndata: "
           R"({"type":"message_start","message":{"id":"m1","usage":{"input_tokens":100,"output_tokens":1}}})"
           "\n\n",
           "event: content_block_delta\ndata: "
           R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
           "\n\n"}));
  FakeExchange ex("/v1/messages");
  std::string body = json{{"model", "auto"},
                          {"max_tokens", 100},
                          {"stream", true},
                          {"messages", {{{"role", "user"}, {"content", "hello"}}}}}
                         .dump();
  ProxyResult r = h.Send(ex, body, Endpoint::kMessages);

  CHECK(h.transport.seen[0].path == "/v1/messages");
  CHECK(ex.out.find("event: error\n") != std::string::npos);
  CHECK(ex.out.find("\"type\":\"api_error\"") != std::string::npos);
  CHECK(ex.out.find("message_stop") == std::string::npos);
  CHECK(r.error == "upstream_stream_interrupted");
  CHECK(r.input_tokens == 100);  // message_start's count, not the estimate
}
