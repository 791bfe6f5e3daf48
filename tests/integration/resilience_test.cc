// Resilience of the gateway under upstream faults (reliability catalogue, section C):
// what moves a request to the next backend, what is retried, what is relayed as is,
// circuit breakers, the retry budget and the shape of the final error. Faults come from
// signalbox-mock: `--fault` on one mock makes only that backend fail; the per-request
// `x-mock-fault` header reaches every backend (the gateway forwards client headers).
//
// Streaming-specific cases (commit point, heartbeats, disconnects, max_streams) are in
// resilience_stream_test.cc.
#include <latch>
#include <mutex>

#include "integration/resilience_util.h"

using namespace signalbox::testing;
using namespace signalbox::testing::resil;
using nlohmann::json;

namespace {

constexpr const char* kShortTimeouts =
    "    timeouts: {connect: 1s, first_byte: 1s, idle: 1s, total: 30s}\n";

struct Pair {
  RunningMock small, large;
  RunningGateway gw;
  // `small_args`/`large_args` go to the mocks; `small_extra`/`large_extra` under the backends.
  Pair(const std::vector<std::string>& small_args, const std::vector<std::string>& large_args,
       const std::string& small_extra = "", const std::string& large_extra = "",
       const std::string& server_extra = "") {
    std::vector<std::string> sa = {"--model", "small-model"}, la = {"--model", "large-model"};
    sa.insert(sa.end(), small_args.begin(), small_args.end());
    la.insert(la.end(), large_args.begin(), large_args.end());
    small = MustStartMock(sa);
    large = MustStartMock(la);
    gw = MustStartGateway(
        Config({{"small", small.BaseUrl(), small_extra}, {"large", large.BaseUrl(), large_extra}},
               server_extra));
  }
};

// One plain and one streamed request that must both be answered by `large` after
// `small` failed; checks the access log counts `attempts` upstream attempts.
void ExpectFallbackToLarge(const RunningGateway& gw, int attempts = 2) {
  std::string id = NextId("fb-plain");
  auto r = PostChat(gw, ChatBody("hello"), {{"x-request-id", id}});
  REQUIRE(r);
  INFO("body: " << r->body);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("x-signalbox-backend") == "large");
  auto body = json::parse(r->body, nullptr, false);
  CHECK(body.value("model", "") == "large-model");
  auto line = AccessLine(gw, id);
  CHECK(line["status"] == 200);
  CHECK(line["backend"] == "large");
  CHECK(line["attempts"] == attempts);

  std::string sid = NextId("fb-stream");
  auto s = PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hello", true),
                   {{"x-request-id", sid}});
  CheckCleanStream(s, "large-model");
  CHECK(s.headers.find("x-signalbox-backend")->second == "large");
  auto sline = AccessLine(gw, sid);
  CHECK(sline["status"] == 200);
  CHECK(sline["attempts"] == attempts);
}

}  // namespace

TEST_CASE("fallback: a refused connection to the first backend moves to the next",
          "[integration][resilience]") {
  RunningMock large = MustStartMock({"--model", "large-model"});
  int closed = FreePort();
  RunningGateway gw =
      MustStartGateway(Config({{"small", UrlOfPort(closed), ""}, {"large", large.BaseUrl(), ""}}));
  ExpectFallbackToLarge(gw);
  CHECK(Counter(large, "requests") == 2);
}

TEST_CASE("fallback: a connection reset before any byte moves to the next backend",
          "[integration][resilience]") {
  Pair p({"--fault", "reset"}, {});
  ExpectFallbackToLarge(p.gw);
  CHECK(Counter(p.small, "requests") == 2);
  CHECK(Counter(p.large, "requests") == 2);
}

TEST_CASE("fallback: an upstream 500, 502 or 503 moves to the next backend",
          "[integration][resilience]") {
  std::string status = GENERATE("500", "502", "503");
  INFO("fault " << status);
  Pair p({"--fault", status}, {});
  ExpectFallbackToLarge(p.gw);
  CHECK(Counter(p.small, "requests") == 2);
  CHECK(Counter(p.large, "requests") == 2);
}

TEST_CASE(
    "fallback: a plain 200 whose body is no completion (error object, cut JSON, empty) moves on",
    "[integration][resilience]") {
  // The non-streaming twin of "a 200 SSE whose first event is an error": the client must
  // never get a 200 that holds only an error or a body it cannot parse.
  std::string fault = GENERATE("error-event", "malformed", "empty-stream");
  INFO("fault on small: " << fault);
  Pair p({"--fault", fault}, {});
  std::string id = NextId("bad-200");
  auto r = PostChat(p.gw, ChatBody("hello"), {{"x-request-id", id}});
  REQUIRE(r);
  INFO("status " << r->status << " body: " << r->body);
  CHECK(r->status == 200);
  auto body = json::parse(r->body, nullptr, false);
  CHECK(body.is_object());
  CHECK_FALSE(body.contains("error"));
  CHECK(body.value("object", "") == "chat.completion");
  CHECK(r->get_header_value("x-signalbox-backend") == "large");
  CHECK(Counter(p.large, "requests") == 1);
}

TEST_CASE("fallback: a 429 skips the backend while its retry-after lasts",
          "[integration][resilience]") {
  // retry-after: 3600: the second request falls in the window whatever the machine's speed.
  Pair p({"--fault", "429:3600"}, {});
  auto r1 = PostChat(p.gw, ChatBody("one"));
  REQUIRE(r1);
  CHECK(r1->status == 200);
  CHECK(r1->get_header_value("x-signalbox-backend") == "large");
  CHECK(Counter(p.small, "requests") == 1);
  std::string id = NextId("ra");
  auto r2 = PostChat(p.gw, ChatBody("two"), {{"x-request-id", id}});
  REQUIRE(r2);
  CHECK(r2->status == 200);
  CHECK(r2->get_header_value("x-signalbox-backend") == "large");
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(AccessLine(p.gw, id)["attempts"] == 1);
}

TEST_CASE("fallback: after a 429's retry-after has passed the backend is asked again",
          "[integration][resilience]") {
  Pair p({"--fault", "429:1"}, {});
  auto sent1 = Clock::now();
  auto r1 = PostChat(p.gw, ChatBody("one"));
  REQUIRE(r1);
  CHECK(r1->get_header_value("x-signalbox-backend") == "large");
  // Poll until small is asked again (it answers 429 again, large serves). Only a lower
  // bound on time is checked: the window began after the first request was sent.
  bool reached = false;
  auto give_up = Clock::now() + std::chrono::seconds(30);
  Clock::time_point reached_at;
  while (!reached && Clock::now() < give_up) {
    auto r = PostChat(p.gw, ChatBody("poll"));
    REQUIRE(r);
    CHECK(r->status == 200);
    if (Counter(p.small, "requests") > 1) {
      reached = true;
      reached_at = Clock::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
    }
  }
  CHECK(reached);
  if (reached) CHECK(reached_at - sent1 >= std::chrono::seconds(1));
}

TEST_CASE("fallback: a first-byte timeout moves on and closes the abandoned upstream request",
          "[integration][resilience][timeout]") {
  Pair p({"--fault", "hang"}, {}, kShortTimeouts);
  ExpectFallbackToLarge(p.gw);
  // Each abandoned attempt was closed, not left hanging on the upstream.
  CHECK(p.small.WaitForCounter("client_disconnects", 2));
  CHECK(p.small.WaitForCounter("in_flight", 0));
}

TEST_CASE(
    "one deadline for the whole request: fallbacks draw from timeouts.total of the first backend",
    "[integration][resilience][timeout]") {
  // small gives up at its first_byte (2 s); large's own first_byte is 120 s, so only the
  // request's deadline (2.5 s) can end its attempt before the client's 60 s read timeout.
  const char* ts = "    timeouts: {connect: 1s, first_byte: 2s, idle: 2s, total: 2500ms}\n";
  const char* tl = "    timeouts: {connect: 1s, first_byte: 120s, idle: 120s, total: 600s}\n";
  Pair p({"--fault", "hang"}, {"--fault", "hang"}, ts, tl);
  std::string id = NextId("deadline");
  auto t0 = Clock::now();
  auto r = PostChat(p.gw, ChatBody("hi"), {{"x-request-id", id}}, std::chrono::seconds(60));
  auto took = Clock::now() - t0;
  auto e = CheckErrorResponse(r, 504);
  CHECK(e["code"] == "upstream_timeout");
  CHECK(took >= std::chrono::milliseconds(2400));  // a lower bound: slowness cannot fail it
  CHECK(Counter(p.large, "requests") == 1);
  CHECK(p.large.WaitForCounter("client_disconnects", 1));
  CHECK(AccessLine(p.gw, id)["attempts"] == 2);
}

TEST_CASE("upstream 401/403 are a 502 upstream_auth_error for the client, never a 401",
          "[integration][resilience]") {
  std::vector<std::string> mock_args;
  httplib::Headers headers;
  SECTION("401: the gateway's key is refused") {
    mock_args = {"--api-key", "the-right-upstream-key"};
  }
  SECTION("403") { headers = {{"x-mock-fault", "403"}}; }
  Pair p(mock_args, mock_args);
  auto r = PostChat(p.gw, ChatBody("hi"), headers);
  auto e = CheckErrorResponse(r, 502);
  CHECK(e["code"] == "upstream_auth_error");
  CHECK(r->get_header_value("x-should-retry") == "false");
  std::string msg = e.value("message", "");
  CHECK(msg.find("small") != std::string::npos);
  CHECK(msg.find("large") != std::string::npos);
  CHECK(msg.find("mock fault") == std::string::npos);  // the upstream's error text is not echoed
  CHECK(msg.find("Incorrect API key") == std::string::npos);
  CheckNoUpstreamAddress(msg, {p.small.port, p.large.port});
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(Counter(p.large, "requests") == 1);

  headers.emplace("x-request-id", NextId("auth-stream"));
  auto s = PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), headers);
  CHECK(s.status == 502);
  CHECK(s.content_type.rfind("application/json", 0) == 0);
  CHECK(CheckErrorBody(s.raw)["code"] == "upstream_auth_error");
}

TEST_CASE("after a 401 from the first backend the request falls back to the next one",
          "[integration][resilience]") {
  Pair p({"--api-key", "the-right-upstream-key"}, {});
  ExpectFallbackToLarge(p.gw);
}

TEST_CASE("an upstream 400 is relayed to the client without fallback or ejection",
          "[integration][resilience]") {
  Pair p({"--fault", "400"}, {}, "    circuit: {failures: 2, cooldown: 30s}\n");
  for (int i = 0; i < 3; ++i) {
    auto r = PostChat(p.gw, ChatBody("hi"));
    auto e = CheckErrorResponse(r, 400);
    CHECK(e["code"] == "context_length_exceeded");
    CHECK(e["param"] == "messages");
    CHECK(r->get_header_value("x-signalbox-backend") == "small");
  }
  auto s = PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true));
  CHECK(s.status == 400);
  CHECK(CheckErrorBody(s.raw)["code"] == "context_length_exceeded");
  // Four 400s: small was asked every time (a 4xx never opens its circuit), large never.
  CHECK(Counter(p.small, "requests") == 4);
  CHECK(Counter(p.large, "requests") == 0);
}

TEST_CASE("retries: 1 retries the same backend once before falling back",
          "[integration][resilience]") {
  std::string fault = GENERATE("500", "reset");
  INFO("fault " << fault);
  Pair p({"--fault", fault}, {}, "    retries: 1\n");
  std::string id = NextId("retry");
  auto r = PostChat(p.gw, ChatBody("hi"), {{"x-request-id", id}});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("x-signalbox-backend") == "large");
  CHECK(Counter(p.small, "requests") == 2);
  CHECK(Counter(p.large, "requests") == 1);
  CHECK(AccessLine(p.gw, id)["attempts"] == 3);
}

TEST_CASE("circuit: two failures open it, the cooldown lets one probe through, a success closes it",
          "[integration][resilience][circuit]") {
  int port = FreePort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  RunningMock small =
      MustStartMock({"--listen", listen, "--model", "small-model", "--fault", "500"});
  REQUIRE(small.port == port);
  RunningMock large = MustStartMock({"--model", "large-model"});
  RunningGateway gw = MustStartGateway(
      Config({{"small", small.BaseUrl(), "    circuit: {failures: 2, cooldown: 1s}\n"},
              {"large", large.BaseUrl(), ""}}));

  for (int i = 0; i < 2; ++i) {
    auto r = PostChat(gw, ChatBody("fail"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "large");
  }
  auto opened_before = Clock::now();  // the circuit opened during the second request
  CHECK(Counter(small, "requests") == 2);
  std::string id = NextId("open");
  auto r3 = PostChat(gw, ChatBody("skip"), {{"x-request-id", id}});
  REQUIRE(r3);
  CHECK(r3->status == 200);
  CHECK(Counter(small, "requests") == 2);  // skipped while open
  CHECK(AccessLine(gw, id)["attempts"] == 1);

  // small recovers: the same port, no fault.
  small.process->Signal(SIGTERM);
  REQUIRE(small.process->WaitFor(std::chrono::seconds(5)).has_value());
  small = MustStartMock({"--listen", listen, "--model", "small-model"});

  // Poll until a request is served by small: that one is the probe.
  bool probed = false;
  Clock::time_point probe_end;
  auto give_up = Clock::now() + std::chrono::seconds(6);
  while (!probed && Clock::now() < give_up) {
    auto r = PostChat(gw, ChatBody("poll"));
    REQUIRE(r);
    CHECK(r->status == 200);
    if (r->get_header_value("x-signalbox-backend") == "small") {
      probed = true;
      probe_end = Clock::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
    }
  }
  REQUIRE(probed);
  CHECK(Counter(small, "requests") == 1);  // nothing reached it before the probe
  CHECK(probe_end - opened_before >= std::chrono::seconds(1));
  // The probe succeeded: the circuit is closed and small takes traffic again.
  for (int i = 0; i < 2; ++i) {
    auto r = PostChat(gw, ChatBody("closed"));
    REQUIRE(r);
    CHECK(r->get_header_value("x-signalbox-backend") == "small");
  }
  CHECK(Counter(small, "requests") == 3);
}

TEST_CASE("circuit: a success between two failures resets the count (failures must be consecutive)",
          "[integration][resilience][circuit]") {
  bool stream_success = GENERATE(false, true);
  INFO("the success in between is " << (stream_success ? "a stream" : "a plain request"));
  Pair p({}, {}, "    circuit: {failures: 2, cooldown: 30s}\n",
         "    circuit: {failures: 100, cooldown: 30s}\n");
  auto fail = [&] {
    auto r = PostChat(p.gw, ChatBody("fail"), {{"x-mock-fault", "500"}});
    CheckErrorResponse(r, 502);  // both backends fail this one
  };
  fail();
  if (stream_success) {
    auto s = PostSse(p.gw.BaseUrl(), "/v1/chat/completions", ChatBody("ok", true));
    CheckCleanStream(s, "small-model");
  } else {
    auto r = PostChat(p.gw, ChatBody("ok"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-signalbox-backend") == "small");
  }
  fail();
  // small failed twice, but not in a row: its circuit is still closed.
  auto r = PostChat(p.gw, ChatBody("ok"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("x-signalbox-backend") == "small");
  CHECK(Counter(p.small, "requests") == 4);
}

TEST_CASE("circuit: a half-open probe whose client hangs up does not wedge the circuit",
          "[integration][resilience][circuit]") {
  int port = FreePort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  RunningMock small =
      MustStartMock({"--listen", listen, "--model", "small-model", "--fault", "500"});
  RunningMock large = MustStartMock({"--model", "large-model"});
  RunningGateway gw = MustStartGateway(
      Config({{"small", small.BaseUrl(), "    circuit: {failures: 1, cooldown: 1s}\n"},
              {"large", large.BaseUrl(), ""}}));
  auto r1 = PostChat(gw, ChatBody("fail"));
  REQUIRE(r1);
  CHECK(r1->status == 200);  // small failed once: open

  // small now hangs: the probe after the cooldown hangs, and its client gives up.
  small.process->Signal(SIGTERM);
  REQUIRE(small.process->WaitFor(std::chrono::seconds(5)).has_value());
  small = MustStartMock({"--listen", listen, "--model", "small-model", "--fault", "hang"});
  bool probe_sent = false;
  auto give_up = Clock::now() + std::chrono::seconds(6);
  while (!probe_sent && Clock::now() < give_up) {
    auto r = PostChat(gw, ChatBody("poll"), {}, std::chrono::milliseconds(700));
    if (!r) {
      probe_sent = true;  // the client timed out: its request was the probe, hanging on small
    } else {
      CHECK(r->get_header_value("x-signalbox-backend") == "large");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
    }
  }
  REQUIRE(probe_sent);
  CHECK(small.WaitForCounter("client_disconnects", 1));

  // small recovers. The probe never finished, so its outcome is unknown: the breaker must
  // still let a new probe through after a cooldown (here within 6 s), not skip small forever.
  small.process->Signal(SIGTERM);
  REQUIRE(small.process->WaitFor(std::chrono::seconds(5)).has_value());
  small = MustStartMock({"--listen", listen, "--model", "small-model"});
  bool back = false;
  give_up = Clock::now() + std::chrono::seconds(6);
  while (!back && Clock::now() < give_up) {
    auto r = PostChat(gw, ChatBody("poll"));
    REQUIRE(r);
    if (r->get_header_value("x-signalbox-backend") == "small")
      back = true;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
  }
  CHECK(back);
}

TEST_CASE("circuit: when every candidate's circuit is open, the first one is still tried",
          "[integration][resilience][circuit]") {
  const char* circuit = "    circuit: {failures: 1, cooldown: 30s}\n";
  Pair p({"--fault", "500"}, {"--fault", "500"}, circuit, circuit);
  auto r1 = PostChat(p.gw, ChatBody("one"));
  CheckErrorResponse(r1, 502);
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(Counter(p.large, "requests") == 1);
  // Both circuits are open now; the chain is not left empty.
  for (int i = 2; i <= 3; ++i) {
    auto r = PostChat(p.gw, ChatBody("again"));
    auto e = CheckErrorResponse(r, 502);
    CHECK(r->get_header_value("x-should-retry") == "false");
    CHECK(Counter(p.small, "requests") == i);
    CHECK(Counter(p.large, "requests") == 1);
  }
}

TEST_CASE(
    "circuit: while a half-open probe is out and the other candidates are open, a request is still "
    "tried",
    "[integration][resilience][circuit]") {
  // "The last candidate of a chain is never skipped" must also hold while the first
  // backend's probe is in flight (the soak found bursts of 503s answered with 0 attempts).
  int port = FreePort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  RunningMock small =
      MustStartMock({"--listen", listen, "--model", "small-model", "--fault", "500"});
  RunningMock large = MustStartMock({"--model", "large-model", "--fault", "500"});
  RunningGateway gw = MustStartGateway(
      Config({{"small", small.BaseUrl(), "    circuit: {failures: 1, cooldown: 1s}\n"},
              {"large", large.BaseUrl(), "    circuit: {failures: 1, cooldown: 60s}\n"}}));
  CheckErrorResponse(PostChat(gw, ChatBody("fail")), 502);  // both circuits open
  small.process->Signal(SIGTERM);
  REQUIRE(small.process->WaitFor(std::chrono::seconds(5)).has_value());
  small = MustStartMock(
      {"--listen", listen, "--model", "small-model", "--latency", "1500"});  // healthy, slow

  // /readyz turns 200 when small's cool-down is over (half-open).
  auto cli = gw.Client();
  bool ready = false;
  auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!ready && Clock::now() < give_up) {
    auto r = cli->Get("/readyz");
    ready = r && r->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
  }
  REQUIRE(ready);
  int probe_status = 0;
  std::thread probe([&] {
    auto r = PostChat(gw, ChatBody("probe"));
    probe_status = r ? r->status : -1;
  });
  REQUIRE(small.WaitForCounter("in_flight", 1));  // the probe is on small
  std::string id = NextId("during-probe");
  auto r = PostChat(gw, ChatBody("during"), {{"x-request-id", id}});
  REQUIRE(r);
  INFO("status " << r->status << " body " << r->body);
  if (r->status != 200) CheckErrorBody(r->body);
  CHECK(AccessLine(gw, id)["attempts"].get<int>() >= 1);
  probe.join();
  CHECK(probe_status == 200);
}

TEST_CASE(
    "retry budget: a 50% failure burst of 100 concurrent requests does not multiply upstream load",
    "[integration][resilience][budget]") {
  // Every attempt takes 500 ms, so the 100 requests' first attempts overlap and fail
  // together; retries (fallbacks) are capped at max(3, 20% of the active requests).
  Pair p({"--threads", "256"}, {"--threads", "256"});
  constexpr int kRequests = 100;
  std::vector<int> status(kRequests, 0);
  std::vector<std::string> bodies(kRequests);
  std::latch start(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      httplib::Headers h = {{"x-mock-latency-ms", "500"}};
      if (i % 2 == 0) h.emplace("x-mock-fault", "500");
      start.arrive_and_wait();
      auto r = PostChat(p.gw, ChatBody("burst"), h);
      if (r) {
        status[i] = r->status;
        bodies[i] = r->body;
      }
    });
  }
  for (auto& t : threads) t.join();
  int64_t attempts = Counter(p.small, "requests") + Counter(p.large, "requests");
  INFO("upstream attempts: " << attempts);
  CHECK(attempts <= kRequests * 12 / 10 + 3);
  int ok = 0, errors = 0;
  for (int i = 0; i < kRequests; ++i) {
    INFO("request " << i << " status " << status[i] << " body " << bodies[i]);
    if (i % 2 == 1) {
      CHECK(status[i] == 200);  // the healthy half is never refused for the others' retries
    }
    if (status[i] == 200) {
      ++ok;
    } else {
      CHECK((status[i] == 502 || status[i] == 503 || status[i] == 504));
      CheckErrorBody(bodies[i]);
      ++errors;
    }
  }
  CHECK(ok + errors == kRequests);
}

TEST_CASE(
    "all backends failed: 502/503/504 in OpenAI's shape, x-should-retry: false, backends named, no "
    "URL",
    "[integration][resilience]") {
  struct Case {
    const char* name;
    const char* fault;  // x-mock-fault, or "" for closed ports
    int status;
    const char* code;
  };
  auto c = GENERATE(Case{"500", "500", 502, "upstream_error"},
                    Case{"503", "503", 503, "upstream_unavailable"},
                    Case{"refused", "", 503, "upstream_unavailable"},
                    Case{"first-byte timeout", "hang", 504, "upstream_timeout"});
  INFO("case " << c.name);
  std::vector<int> ports;
  RunningMock small, large;
  std::string small_url, large_url;
  if (std::string(c.fault).empty()) {
    ports = {FreePort(), FreePort()};
    small_url = UrlOfPort(ports[0]);
    large_url = UrlOfPort(ports[1]);
  } else {
    small = MustStartMock({"--model", "small-model"});
    large = MustStartMock({"--model", "large-model"});
    ports = {small.port, large.port};
    small_url = small.BaseUrl();
    large_url = large.BaseUrl();
  }
  RunningGateway gw = MustStartGateway(
      Config({{"small", small_url, kShortTimeouts}, {"large", large_url, kShortTimeouts}}));
  httplib::Headers h;
  if (!std::string(c.fault).empty()) h.emplace("x-mock-fault", c.fault);
  for (bool stream : {false, true}) {
    INFO("stream " << stream);
    std::string id = NextId("allfail");
    h.erase("x-request-id");
    h.emplace("x-request-id", id);
    json e;
    if (stream) {
      auto s = PostSse(gw.BaseUrl(), "/v1/chat/completions", ChatBody("hi", true), h);
      CHECK(s.status == c.status);
      CHECK(s.content_type.rfind("application/json", 0) == 0);
      auto it = s.headers.find("x-should-retry");
      CHECK((it != s.headers.end() && it->second == "false"));
      e = CheckErrorBody(s.raw);
    } else {
      auto r = PostChat(gw, ChatBody("hi"), h);
      e = CheckErrorResponse(r, c.status);
      CHECK(r->get_header_value("x-should-retry") == "false");
    }
    CHECK(e["code"] == c.code);
    std::string msg = e.value("message", "");
    CHECK(msg.find("small") != std::string::npos);
    CHECK(msg.find("large") != std::string::npos);
    CheckNoUpstreamAddress(msg, ports);
    auto line = AccessLine(gw, id);
    CHECK(line["status"] == c.status);
    CHECK(line["attempts"] == 2);
  }
}

TEST_CASE(
    "all backends rate limited: 429 with the smallest retry-after and no x-should-retry: false",
    "[integration][resilience]") {
  Pair p({"--fault", "429:7"}, {"--fault", "429:3"});
  auto r = PostChat(p.gw, ChatBody("hi"));
  auto e = CheckErrorResponse(r, 429);
  CHECK(e["type"] == "rate_limit_error");
  CHECK(r->get_header_value("retry-after") == "3");
  CHECK_FALSE(r->has_header("x-should-retry"));
  CheckNoUpstreamAddress(e.value("message", ""), {p.small.port, p.large.port});
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(Counter(p.large, "requests") == 1);
  // Asked again at once: neither backend is called, the answer is the same kind of 429.
  auto r2 = PostChat(p.gw, ChatBody("hi"));
  auto e2 = CheckErrorResponse(r2, 429);
  CHECK(e2["type"] == "rate_limit_error");
  int ra = std::atoi(r2->get_header_value("retry-after").c_str());
  CHECK(ra >= 1);
  CHECK(ra <= 3);
  CHECK_FALSE(r2->has_header("x-should-retry"));
  CHECK(Counter(p.small, "requests") == 1);
  CHECK(Counter(p.large, "requests") == 1);
}
