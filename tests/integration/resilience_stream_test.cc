// Resilience of streamed responses (reliability catalogue, section D and the streaming
// rows of C): before the first event a failure may still fall back; after it, the stream
// ends with one in-band error event and no [DONE], never a second upstream's content;
// heartbeats during a slow first byte; max_streams; clients that hang up early.
#include <mutex>

#include "integration/resilience_util.h"

using namespace signalbox::testing;
using namespace signalbox::testing::resil;
using nlohmann::json;

namespace {

struct Pair {
  RunningMock small, large;
  RunningGateway gw;
  Pair(const std::vector<std::string>& small_args, const std::vector<std::string>& large_args,
       const std::string& backend_extra = "", const std::string& server_extra = "") {
    std::vector<std::string> sa = {"--model", "small-model"}, la = {"--model", "large-model"};
    sa.insert(sa.end(), small_args.begin(), small_args.end());
    la.insert(la.end(), large_args.begin(), large_args.end());
    small = MustStartMock(sa);
    large = MustStartMock(la);
    gw = MustStartGateway(Config(
        {{"small", small.BaseUrl(), backend_extra}, {"large", large.BaseUrl(), backend_extra}},
        server_extra));
  }
};

SseResponse Stream(const RunningGateway& gw, const std::string& id, httplib::Headers h = {},
                   std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) {
  h.emplace("x-request-id", id);
  return PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hello", true), h, nullptr,
                 read_timeout);
}

// A stream committed by `: ping` heartbeats whose upstream then failed: 200, the pings
// first, exactly one event (the gateway's error), no [DONE].
void CheckPingsThenOneErrorEvent(const SseResponse& r) {
  CHECK(r.status == 200);
  CHECK(r.raw.rfind(": ping", 0) == 0);
  CHECK_FALSE(r.Done());
  REQUIRE(r.events.size() == 1);
  auto err = json::parse(r.events[0], nullptr, false);
  REQUIRE(err.is_object());
  CHECK(err.contains("error"));
}

}  // namespace

TEST_CASE("stream: an error as the first event, or no event at all, falls back before commit",
          "[integration][resilience][stream]") {
  std::string fault = GENERATE("error-event", "empty-stream");
  INFO("fault on small: " << fault);
  Pair p({"--fault", fault}, {});
  std::string id = NextId("first-err");
  auto r = Stream(p.gw, id);
  CheckCleanStream(r, "large-model");
  CHECK(r.raw.find("mock upstream error") == std::string::npos);
  CHECK(r.raw.find("\"error\"") == std::string::npos);
  CHECK(r.events.size() == 18);  // role + 16 tokens + [DONE], from large only
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(Counter(p.large, "requests") == 1);
  auto line = AccessLine(p.gw, id);
  CHECK(line["status"] == 200);
  CHECK(line["backend"] == "large");
  CHECK(line["attempts"] == 2);
}

TEST_CASE("stream: a malformed first event falls back before commit",
          "[integration][resilience][stream]") {
  Pair p({"--fault", "malformed:0"}, {});
  std::string id = NextId("first-malformed");
  auto r = Stream(p.gw, id);
  CheckCleanStream(r, "large-model");
  CHECK(r.events.size() == 18);
  CHECK(Counter(p.large, "requests") == 1);
  CHECK(AccessLine(p.gw, id)["attempts"] == 2);
}

TEST_CASE(
    "stream: after the first event there is no fallback, the stream ends with one error event",
    "[integration][resilience][stream]") {
  std::string fault = GENERATE("cut:3", "error-event:3", "malformed:3");
  INFO("fault on small: " << fault);
  Pair p({"--fault", fault}, {});
  std::string id = NextId("mid");
  auto r = Stream(p.gw, id);
  INFO("raw: " << r.raw);
  CHECK(r.status == 200);
  CHECK_FALSE(r.Done());
  CHECK(r.raw.find("[DONE]") == std::string::npos);
  // Exactly the upstream's role chunk and its first 3 content events, then one error.
  REQUIRE(r.events.size() == 5);
  auto role = json::parse(r.events[0], nullptr, false);
  REQUIRE(role.is_object());
  CHECK(role["choices"][0]["delta"]["role"] == "assistant");
  CHECK(role["model"] == "small-model");
  CHECK(DeltaContent(r.events[1]) == "tok1");
  CHECK(DeltaContent(r.events[2]) == " tok2");
  CHECK(DeltaContent(r.events[3]) == " tok3");
  auto err = json::parse(r.events[4], nullptr, false);
  REQUIRE(err.is_object());
  REQUIRE(err.contains("error"));
  CHECK(err["error"]["message"].is_string());
  CHECK(err["error"]["type"].is_string());
  CHECK(err["error"].contains("code"));
  CheckNoUpstreamAddress(err["error"].value("message", ""), {p.small.port, p.large.port});
  CHECK(r.raw.find("large-model") == std::string::npos);
  CHECK(Counter(p.large, "requests") == 0);
  // The gateway knows the answer is incomplete: the access log says so.
  auto line = AccessLine(p.gw, id);
  CHECK(line["status"] == 200);
  CHECK(line["attempts"] == 1);
  CHECK(ErrorOf(line) == "upstream_stream_interrupted");
}

TEST_CASE(
    "stream: an upstream that stalls mid-stream past timeouts.idle ends the stream with an error "
    "event",
    "[integration][resilience][stream][timeout]") {
  Pair p({"--fault", "stall:2"}, {},
         "    timeouts: {connect: 1s, first_byte: 5s, idle: 1s, total: 30s}\n");
  std::string id = NextId("stall");
  auto r = Stream(p.gw, id);
  INFO("raw: " << r.raw);
  CHECK(r.status == 200);
  CHECK_FALSE(r.Done());
  REQUIRE(r.events.size() == 4);  // role, tok1, tok2, error
  CHECK(DeltaContent(r.events[1]) == "tok1");
  CHECK(DeltaContent(r.events[2]) == " tok2");
  auto err = json::parse(r.events[3], nullptr, false);
  REQUIRE(err.is_object());
  CHECK(err.contains("error"));
  CHECK(Counter(p.large, "requests") == 0);
  CHECK(p.small.WaitForCounter("client_disconnects", 1));  // the stalled upstream was closed
  CHECK(ErrorOf(AccessLine(p.gw, id)) == "upstream_stream_interrupted");
}

TEST_CASE(
    "overload: beyond server.max_streams a stream gets a fast 503 while other requests still work",
    "[integration][resilience][overload]") {
  Pair p({}, {}, "", "  max_streams: 2\n");
  std::atomic<bool> stop{false};
  std::atomic<int> open{0};
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&] {
      bool counted = false;
      PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("long", true),
              {{"x-mock-tokens", "300"}, {"x-mock-token-interval-ms", "100"}},
              [&](const SseResponse&) {
                if (!counted) {
                  counted = true;
                  ++open;
                }
                return stop.load();
              });
    });
  }
  auto until = Clock::now() + std::chrono::seconds(10);
  while (open.load() < 2 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(open.load() == 2);

  auto third = PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("third", true));
  INFO("third: " << third.status << " " << third.raw);
  CHECK(third.status == 503);
  CHECK(third.content_type.rfind("application/json", 0) == 0);
  CHECK(third.headers.count("retry-after") == 1);  // (httplib compares names case-insensitively)
  CheckErrorBody(third.raw);
  // Refused at once, not queued behind a slot: both 30 s streams are still running (no
  // clock involved, so a slow machine cannot fail this).
  CHECK(Counter(p.small, "streams_completed") == 0);
  CHECK(Counter(p.small, "streams_started") == 2);

  auto cli = p.gw.Client();
  auto h = cli->Get("/healthz");
  REQUIRE(h);
  CHECK(h->status == 200);
  auto plain = PostChat(p.gw, ChatBody("plain"));
  REQUIRE(plain);
  CHECK(plain->status == 200);

  stop = true;
  for (auto& t : holders) t.join();
  // The slots are released once the holders are gone.
  bool freed = false;
  until = Clock::now() + std::chrono::seconds(5);
  while (!freed && Clock::now() < until) {
    auto s = PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("after", true));
    if (s.status == 200 && s.Done())
      freed = true;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
  }
  CHECK(freed);
}

TEST_CASE("sse_heartbeat: ': ping' comments during a slow first byte, then the stream completes",
          "[integration][resilience][stream][heartbeat]") {
  Pair p({}, {}, "", "  sse_heartbeat: 1s\n");
  std::string id = NextId("hb");
  auto r = Stream(p.gw, id, {{"x-mock-fault", "slow-first-byte:2500"}});
  INFO("raw: " << r.raw.substr(0, 400));
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  size_t ping = r.raw.find(": ping");
  size_t data = r.raw.find("data: ");
  REQUIRE(ping != std::string::npos);
  REQUIRE(data != std::string::npos);
  CHECK(ping < data);
  CHECK(r.raw.rfind(": ping", data) != std::string::npos);
  CHECK(r.Done());
  CHECK(r.events.size() == 18);
  CHECK(Counter(p.large, "requests") == 0);
  auto line = AccessLine(p.gw, id);
  CHECK(line["status"] == 200);
  CHECK(line["output_tokens"] == 16);  // pings are not tokens
}

TEST_CASE(
    "sse_heartbeat: once a ping committed the stream there is no fallback, a failure is an error "
    "event",
    "[integration][resilience][stream][heartbeat]") {
  Pair p({"--fault", "hang"}, {},
         "    timeouts: {connect: 1s, first_byte: 2s, idle: 2s, total: 30s}\n",
         "  sse_heartbeat: 1s\n");
  std::string id = NextId("hb-fail");
  auto r = Stream(p.gw, id);
  INFO("raw: " << r.raw);
  CheckPingsThenOneErrorEvent(r);
  CHECK(Counter(p.large, "requests") == 0);  // committed by the ping: no fallback
  CHECK(p.small.WaitForCounter("client_disconnects", 1));
  CHECK(ErrorOf(AccessLine(p.gw, id)) != "");
}

TEST_CASE(
    "sse_heartbeat: an upstream that fails before its first event after a ping ends with an error "
    "event, "
    "never an empty clean stream",
    "[integration][resilience][stream][heartbeat]") {
  Pair p({}, {}, "", "  sse_heartbeat: 1s\n");
  for (const char* fault : {"500", "429", "error-event:0", "cut:0"}) {
    INFO("fault " << fault);
    std::string id = NextId("hb-late-fail");
    auto r = Stream(p.gw, id, {{"x-mock-fault", fault}, {"x-mock-latency-ms", "1500"}});
    INFO("raw: " << r.raw);
    CheckPingsThenOneErrorEvent(r);
    CHECK(ErrorOf(AccessLine(p.gw, id)) != "");
  }
  CHECK(Counter(p.large, "requests") == 0);  // committed by the ping: no fallback
}

TEST_CASE(
    "a client that hangs up while waiting for the first byte cancels the upstream within about 1 s",
    "[integration][resilience][disconnect]") {
  Pair p({}, {});
  int expected = 0;
  for (bool stream : {true, false}) {
    INFO("stream " << stream);
    std::string id = NextId("ttft-gone");
    if (stream) {
      auto r = Stream(p.gw, id, {{"x-mock-fault", "hang"}}, std::chrono::milliseconds(500));
      CHECK(r.status == 0);  // nothing came before the client gave up
    } else {
      auto r = PostChat(p.gw, ChatBody("hi"), {{"x-request-id", id}, {"x-mock-fault", "hang"}},
                        std::chrono::milliseconds(500));
      CHECK_FALSE(r);
    }
    ++expected;
    // The client socket is closed when the call returns.
    CHECK(p.small.WaitForCounter("client_disconnects", expected, std::chrono::milliseconds(1500)));
    auto line = AccessLine(p.gw, id);
    CHECK(line["status"] == 499);
    CHECK(line["attempts"] == 1);
  }
  CHECK(Counter(p.large, "requests") == 0);  // nobody listens: no fallback
  CHECK(p.small.WaitForCounter("in_flight", 0));
}
