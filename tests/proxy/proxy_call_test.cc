// ProxyCall with a scripted transport, a recording exchange and a fake clock: the
// fallback, retry and settle-before-the-end rules of docs/resilience.md for plain
// answers, checked without a socket or a wall-clock wait (streams: proxy_call_stream_test.cc).
#include "proxy/proxy_call.h"

#include <catch2/catch.hpp>

#include "proxy/proxy_call_harness.h"

using namespace signalbox;
using namespace signalbox::testing;

TEST_CASE("a plain answer reaches the client with the backend's model, billed before it arrives",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script("small", FakeAnswer::Json(ChatAnswer("hi", 1000, 500)));
  FakeExchange ex;
  int64_t spent_when_answered = -1;
  ex.on_final = [&] { spent_when_answered = h.Spent(); };
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(ex.status == 200);
  CHECK(json::parse(ex.out)["choices"][0]["message"]["content"] == "hi");
  CHECK(ex.ResponseHeader("x-signalbox-backend") == "small");
  REQUIRE(h.transport.seen.size() == 1);
  CHECK(h.transport.seen[0].path == "/v1/chat/completions");
  CHECK(json::parse(h.transport.seen[0].body)["model"] == "small-model");
  // 1000 input at $1/Mtok + 500 output at $2/Mtok = $0.002.
  CHECK(r.cost_usd == Approx(0.002));
  CHECK(spent_when_answered == 2'000'000);
  CHECK(r.error.empty());
}

TEST_CASE("a 5xx is retried on its backend, then the next candidate answers",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script("small", FakeAnswer::Json(R"({"error":{"message":"boom"}})", 500));
  h.transport.Script("small", FakeAnswer::Json(R"({"error":{"message":"boom"}})", 502));
  h.transport.Script("large", FakeAnswer::Json(ChatAnswer("from large", 10, 5)));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(ex.status == 200);
  CHECK(ex.ResponseHeader("x-signalbox-backend") == "large");
  REQUIRE(r.attempts.size() == 3);
  CHECK(r.attempts[0].outcome == "upstream_5xx");
  CHECK(r.attempts[1].outcome == "upstream_5xx");
  CHECK(r.attempts[2].outcome == "ok");
  REQUIRE(r.fallbacks.size() == 1);
  CHECK(r.fallbacks[0] == std::make_pair(std::string("small"), std::string("large")));
  CHECK(r.fallback_reasons == std::vector<std::string>{"upstream_error"});
  CHECK(json::parse(h.transport.seen[2].body)["model"] == "large-model");
}

TEST_CASE("an upstream 400 is relayed, scrubbed of URLs, and never falls back",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script(
      "small",
      FakeAnswer::Json(
          R"({"error":{"message":"tools[0] is invalid, see https://internal.example/docs","type":"invalid_request_error","code":"bad_tools","param":"tools"}})",
          400));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(ex.status == 400);
  CHECK(h.transport.seen.size() == 1);
  json e = Error(ex);
  CHECK(e["code"] == "bad_tools");
  CHECK(e["param"] == "tools");
  CHECK(e["message"].get<std::string>().find("internal.example") == std::string::npos);
  CHECK(r.error == "upstream_client_error");
}

TEST_CASE("when no candidate can be reached the client gets one 503 naming each backend",
          "[proxy][proxy_call]") {
  Harness h;  // nothing scripted: every connection is refused
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(ex.status == 503);
  CHECK(ex.responses == 1);
  json e = Error(ex);
  CHECK(e["code"] == "upstream_unavailable");
  CHECK(e["type"] == "server_error");
  std::string msg = e["message"];
  CHECK(msg.find("small: could not connect") != std::string::npos);
  CHECK(msg.find("large: could not connect") != std::string::npos);
  CHECK(ex.ResponseHeader("x-should-retry") == "false");
  CHECK(ex.ResponseHeader("retry-after") == "1");
  // small: the first try and its one retry; large: one try.
  CHECK(h.transport.seen.size() == 3);
  CHECK(r.status == 503);
}

TEST_CASE("when every candidate is rate limited the client gets 429 with the soonest retry-after",
          "[proxy][proxy_call]") {
  Harness h;
  FakeAnswer small = FakeAnswer::Json(R"({"error":{"message":"slow down"}})", 429);
  small.retry_after_s = 7;
  FakeAnswer large = FakeAnswer::Json(R"({"error":{"message":"slow down"}})", 429);
  large.retry_after_s = 3;
  h.transport.Script("small", small);
  h.transport.Script("large", large);
  FakeExchange ex;
  h.Send(ex, ChatBody(false));

  CHECK(ex.status == 429);
  CHECK(Error(ex)["code"] == "rate_limit_exceeded");
  CHECK(ex.ResponseHeader("retry-after") == "3");
  CHECK_FALSE(ex.ResponseHeader("x-should-retry"));  // coming back later is right

  // Both backends are now skipped until their retry-after passes: no upstream call.
  FakeExchange again;
  h.Send(again, ChatBody(false));
  CHECK(again.status == 429);
  CHECK(h.transport.seen.size() == 2);
  // Once it has passed, the first candidate is tried again.
  h.clock.Advance(std::chrono::seconds(8));
  h.transport.Script("small", FakeAnswer::Json(ChatAnswer("back", 1, 1)));
  FakeExchange later;
  h.Send(later, ChatBody(false));
  CHECK(later.status == 200);
}

TEST_CASE("the request deadline is kept on the injected clock: no retry after it passed",
          "[proxy][proxy_call]") {
  Harness h;
  FakeAnswer slow = FakeAnswer::Fails(CallError::kReset);
  slow.during = [&h] { h.clock.Advance(std::chrono::seconds(31)); };  // past total: 30s
  h.transport.Script("small", slow);
  h.transport.Script("large", FakeAnswer::Json(ChatAnswer("too late", 1, 1)));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(h.transport.seen.size() == 1);  // neither the retry nor the fallback ran
  CHECK(ex.status == 504);
  CHECK(Error(ex)["code"] == "upstream_timeout");
  CHECK(r.error == "upstream_timeout");
}

TEST_CASE("a client that hangs up ends the request with no further attempt",
          "[proxy][proxy_call]") {
  Harness h;
  h.transport.Script("small", FakeAnswer::Fails(CallError::kClientGone));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(r.status == 499);
  CHECK(r.error == "client_gone");
  CHECK(ex.responses == 0);
  CHECK(h.transport.seen.size() == 1);
  REQUIRE(r.attempts.size() == 1);
  CHECK(r.attempts[0].billed);  // the upstream had the prompt
}

TEST_CASE("a chain the key's budget cannot afford ends in 429 insufficient_quota, no upstream call",
          "[proxy][proxy_call]") {
  Harness h;
  FakeExchange ex;
  budget::BudgetLimits broke;
  broke.daily_usd = 0.0;
  ProxyResult r = h.Send(ex, ChatBody(false), Endpoint::kChat, broke);

  CHECK(h.transport.seen.empty());
  CHECK(ex.status == 429);
  json e = Error(ex);
  CHECK(e["code"] == "budget_exceeded");
  CHECK(e["type"] == "insufficient_quota");
  CHECK(ex.ResponseHeader("x-should-retry") == "false");
  CHECK(r.fallback_reasons == std::vector<std::string>{"budget", "budget"});
}

TEST_CASE("after circuit.failures failures a backend is skipped without a call until its cool-down",
          "[proxy][proxy_call]") {
  Harness h;
  // 3 requests x (a try and its retry) = 6 failures >= circuit.failures (5).
  for (int i = 0; i < 3; ++i) {
    h.transport.Script("large", FakeAnswer::Json(ChatAnswer("large", 1, 1)));
    FakeExchange ex;
    h.Send(ex, ChatBody(false));
    CHECK(ex.status == 200);
  }
  const size_t calls = h.transport.seen.size();
  CHECK(calls == 9);
  h.transport.Script("large", FakeAnswer::Json(ChatAnswer("large", 1, 1)));
  FakeExchange skipped;
  ProxyResult r = h.Send(skipped, ChatBody(false));
  CHECK(skipped.status == 200);
  REQUIRE(h.transport.seen.size() == calls + 1);
  CHECK(h.transport.seen.back().backend == "large");
  CHECK(r.fallback_reasons == std::vector<std::string>{"circuit_open"});

  // After the cool-down (30 s by default, on the fake clock) one probe goes to small again.
  h.clock.Advance(std::chrono::seconds(31));
  h.transport.Script("small", FakeAnswer::Json(ChatAnswer("small again", 1, 1)));
  FakeExchange probe;
  h.Send(probe, ChatBody(false));
  CHECK(probe.ResponseHeader("x-signalbox-backend") == "small");
}

TEST_CASE("without a free retry-budget slot a failed attempt is answered at once",
          "[proxy][proxy_call]") {
  Harness h;
  h.retry_budget.Configure(0.0, 0);  // no concurrent retries at all
  h.transport.Script("small", FakeAnswer::Json(R"({"error":{"message":"boom"}})", 500));
  h.transport.Script("large", FakeAnswer::Json(ChatAnswer("never", 1, 1)));
  FakeExchange ex;
  ProxyResult r = h.Send(ex, ChatBody(false));

  CHECK(h.transport.seen.size() == 1);  // neither the retry nor the fallback
  CHECK(ex.status == 502);
  CHECK(Error(ex)["code"] == "upstream_error");
  CHECK(Error(ex)["message"].get<std::string>().find("retry budget exhausted") !=
        std::string::npos);
  CHECK(r.attempts.size() == 1);
}
