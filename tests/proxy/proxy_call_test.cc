// ProxyCall with a scripted transport, a recording exchange and a fake clock: the
// fallback, retry, relay and settle-before-the-end rules of docs/resilience.md, checked
// without a socket or a wall-clock wait.
#include "proxy/proxy_call.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "proxy/fakes.h"
#include "routing/request_facts.h"

using namespace signalbox;
using signalbox::testing::FakeAnswer;
using signalbox::testing::FakeExchange;
using signalbox::testing::FakeTransport;
using json = nlohmann::json;

namespace {

constexpr const char* kConfig = R"(server:
  listen: 127.0.0.1:0
backends:
  - name: small
    url: http://small.invalid/v1
    model: small-model
    api: [chat, messages]
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
    retries: 1
    timeouts: {total: 30s}
  - name: large
    url: http://large.invalid/v1
    model: large-model
    api: [chat, messages]
    price: {input_per_mtok: 10.0, output_per_mtok: 20.0}
    retries: 0
router:
  rules:
    - name: default
      route: [small, large]
)";

std::string ChatAnswer(const std::string& text, int in, int out) {
  return json{
      {"id", "c1"},
      {"object", "chat.completion"},
      {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}}}},
      {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}
      .dump();
}

std::string Chunk(const std::string& text) {
  return "data: " + json{{"choices", {{{"index", 0}, {"delta", {{"content", text}}}}}}}.dump() +
         "\n\n";
}

std::string UsageChunk(int in, int out) {
  return "data: " +
         json{{"choices", json::array()},
              {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}
             .dump() +
         "\n\n";
}

std::string ChatBody(bool stream) {
  json j = {{"model", "auto"}, {"messages", {{{"role", "user"}, {"content", "hello there"}}}}};
  if (stream) j["stream"] = true;
  return j.dump();
}

// One gateway's worth of request-path state around fakes.
struct Harness {
  FakeClock clock;
  FakeTransport transport;
  RetryBudget retry_budget;
  BackendRegistry registry{clock};
  std::shared_ptr<const Snapshot> snap;
  std::unique_ptr<budget::SpendTracker> spend;

  Harness() {
    LoadResult lr = LoadConfigText(kConfig, "test.yaml");
    INFO((lr.errors.empty() ? "" : lr.errors.front()));
    REQUIRE(lr.config);
    snap = BuildSnapshot(std::move(*lr.config), registry, 1);
    auto t = budget::SpendTracker::Create(nullptr, clock);
    REQUIRE(t.ok());
    spend = std::move(t).value();
  }

  // The key's settled spend, in nano-USD.
  int64_t Spent() const {
    auto totals = spend->Totals();
    auto it = totals.keys.find("team");
    return it == totals.keys.end() ? 0 : it->second.day_nano_usd;
  }

  ProxyResult Send(FakeExchange& ex, const std::string& body, Endpoint ep = Endpoint::kChat,
                   budget::BudgetLimits limits = {}) {
    ParsedRequest req;
    auto err = ParseRequest(ep, body, &req);
    REQUIRE(!err);
    routing::RequestFacts facts = routing::FactsFromRequest(
        req, "", [](std::string_view) { return std::optional<std::string_view>(); });
    routing::Decision d = snap->router->Decide(facts, routing::BaseBudget(*snap->config));
    ProxyInput in;
    in.snap = snap.get();
    in.ex = &ex;
    in.req = &req;
    in.raw_body = body;
    in.decision = &d;
    in.request_id = "req-1";
    in.key_id = "team";
    in.start = clock.Now();
    in.limits = limits;
    ProxyServices svc{clock, transport, retry_budget, spend.get(), nullptr, nullptr};
    RetryBudget::Active active(retry_budget);
    return ProxyCall(svc, in).Run();
  }
};

json Error(const FakeExchange& ex) { return json::parse(ex.out)["error"]; }

}  // namespace

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
