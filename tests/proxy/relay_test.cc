// SseRelay on its own, fed by hand: when it commits, what it passes on, what it holds
// back, and the time of the first event on the injected clock.
#include "proxy/relay.h"

#include <catch2/catch.hpp>

#include "proxy/fakes.h"

using namespace signalbox;
using signalbox::testing::FakeExchange;

namespace {

UpstreamHead SseHead() {
  UpstreamHead h;
  h.status = 200;
  h.content_type = "text/event-stream";
  return h;
}

const std::string kHello = R"(data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]})"
                           "\n\n";
const std::string kUsage =
    R"(data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}})"
    "\n\n";

}  // namespace

TEST_CASE("the relay commits at the first whole event, however the bytes are split",
          "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {{"x-request-id", "r1"}}, false);
  REQUIRE(relay.OnHead(SseHead()));
  REQUIRE(relay.OnData(": keep-alive comment\n\n"));
  REQUIRE(relay.OnData(kHello.substr(0, 17)));
  CHECK_FALSE(ex.committed());  // nothing sent: the attempt can still fail over
  clock.Advance(std::chrono::milliseconds(250));
  const auto at = clock.Now();
  REQUIRE(relay.OnData(kHello.substr(17)));
  CHECK(ex.committed());
  CHECK(ex.status == 200);
  CHECK(ex.out == kHello);
  REQUIRE(relay.first_event_at());
  CHECK(*relay.first_event_at() == at);  // the injected clock's time
  clock.Advance(std::chrono::seconds(1));
  REQUIRE(relay.OnData(kHello));
  CHECK(*relay.first_event_at() == at);
  CHECK(relay.events() == 2);
}

TEST_CASE("the relay holds the terminal event until FinishOk and hides unasked usage",
          "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {}, /*forward_usage=*/false);
  REQUIRE(relay.OnHead(SseHead()));
  REQUIRE(relay.OnData(kHello + kUsage));
  relay.OnData("data: [DONE]\n\n");
  CHECK(relay.terminal_seen());
  CHECK(ex.out == kHello);  // neither the usage chunk nor [DONE] yet
  REQUIRE(relay.usage());
  CHECK(relay.usage()->prompt_tokens == 12);
  CHECK(relay.usage()->completion_tokens == 3);
  relay.FinishOk();
  CHECK(ex.out == kHello + "data: [DONE]\n\n");
  CHECK(ex.ended);
}

TEST_CASE("the relay passes the usage chunk on when the client asked for it", "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {}, /*forward_usage=*/true);
  REQUIRE(relay.OnHead(SseHead()));
  REQUIRE(relay.OnData(kHello + kUsage));
  CHECK(ex.out == kHello + kUsage);
}

TEST_CASE("an error as the first event stops the relay before anything is sent", "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {}, false);
  REQUIRE(relay.OnHead(SseHead()));
  CHECK_FALSE(relay.OnData(R"(data: {"error":{"message":"overloaded"}})"
                           "\n\n"));
  CHECK(relay.stop() == SseRelay::Stop::kFirstError);
  CHECK_FALSE(ex.committed());
  CHECK(ex.out.empty());
}

TEST_CASE("a 200 that is not an event stream is refused before anything is sent",
          "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {}, false);
  UpstreamHead h;
  h.status = 200;
  h.content_type = "application/json";
  CHECK_FALSE(relay.OnHead(h));
  CHECK(relay.stop() == SseRelay::Stop::kNotSse);
  CHECK_FALSE(ex.committed());
}

TEST_CASE("a client gone mid-stream stops the relay", "[proxy][relay]") {
  FakeClock clock;
  FakeExchange ex;
  SseRelay relay(clock, ex, Endpoint::kChat, {}, false);
  REQUIRE(relay.OnHead(SseHead()));
  REQUIRE(relay.OnData(kHello));
  ex.gone = true;
  CHECK_FALSE(relay.OnData(kHello));
  CHECK(relay.stop() == SseRelay::Stop::kClientGone);
}
