// The gateway's HTTP front for callers and secrets (catalogue 4.B and 4.D of
// shared/notes/reliability-tests.md): API keys and the admin token are checked before a
// body is read, request fields cannot redirect the upstream, redirects are not followed,
// no secret leaks anywhere, SSE headers survive Accept-Encoding and the stream cap sheds
// fast while health and plain requests still answer; connections are reused and
// Expect: 100-continue is honoured.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "integration/gateway_fixture.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/raw_http.h"
#include "integration/sse_client.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Headers = std::vector<std::pair<std::string, std::string>>;

using GwOptions = FixtureOptions;
using Gw = MocksAndGateway;

std::string RandomHex(size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (out.size() < n) out += "0123456789abcdef"[rng() % 16];
  return out;
}

}  // namespace

TEST_CASE("B16 missing or bad API keys are 401 before the body is read, a valid key is served",
          "[integration][http]") {
  const std::string key = "sk-team-" + RandomHex(24);
  GwOptions o;
  o.env = {{"K", key}};
  o.key_from_env = true;
  Gw f(o);
  const std::string body = ChatBody("hi");
  SECTION("every bad key is refused with 401 from the head alone") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"missing", ""},
        {"basic scheme", "Basic dXNlcjpwYXNz"},
        {"bearer without token", "Bearer "},
        {"key without scheme", key},
        {"unknown", "Bearer sk-unknown-" + RandomHex(24)},
        {"sql", "Bearer ' OR (SELECT pg_sleep(8)) IS NOT NULL--"},
        {"sql 2", "Bearer x' OR '1'='1'; DROP TABLE keys;--"},
        {"key plus a byte", "Bearer " + key + "x"},
        {"key minus a byte", "Bearer " + key.substr(0, key.size() - 1)},
        {"non-UTF-8", "Bearer \xff\xfe\x80\xc0\xafkey"},
        {"10 KB", "Bearer " + std::string(10 * 1024, 'k')},
    };
    for (const auto& [name, auth] : cases) {
      INFO(name);
      Headers h = {{"Content-Type", "application/json"}};
      if (!auth.empty()) h.emplace_back("Authorization", auth);
      // Only the head: a gateway that read the body before checking the key would wait.
      std::string req = BuildRequest("POST", "/v1/chat/completions", h, body);
      RawConnection c = OpenRaw(f.gw.port);
      c.Send(req.substr(0, req.size() - body.size()));
      auto r = c.ReadResponse(seconds(5));
      REQUIRE(r);
      CHECK(ErrorShapeProblem(*r, {401}) == "");
      CHECK(ErrorOf(*r)["type"] == "authentication_error");
      if (auth.size() > 12) CHECK(r->body.find(auth.substr(7)) == std::string::npos);
    }
  }
  SECTION("the unread body of a refused request is never parsed as a request") {
    const std::string inner =
        BuildRequest("GET", "/v1/models", {{"Authorization", "Bearer " + key}});
    RawConnection c = OpenRaw(f.gw.port);
    c.Send(BuildRequest("POST", "/v1/chat/completions",
                        {{"Authorization", "Bearer nope-nope-nope"}}, inner) +
           inner);
    auto all = c.ReadAll(seconds(5));
    REQUIRE(!all.empty());
    CHECK(all[0].status == 401);
    CHECK(all.size() == 1);
    CHECK(c.closed());
  }
  SECTION("a valid key is served, on chat and models") {
    for (std::string scheme : {"Bearer ", "bearer "}) {
      RawResponse r = RoundTrip(f.gw.port, ChatRequest(body, {{"Authorization", scheme + key}}));
      CHECK(r.status == 200);
      CHECK(json::parse(r.body, nullptr, false).value("object", "") == "chat.completion");
    }
    RawResponse m = RoundTrip(
        f.gw.port, BuildRequest("GET", "/v1/models", {{"Authorization", "Bearer " + key}}));
    CHECK(m.status == 200);
    RawResponse no = RoundTrip(f.gw.port, BuildRequest("GET", "/v1/models"));
    CHECK(ErrorShapeProblem(no, {401}) == "");
  }
  CHECK(f.UpstreamRequests() <= 2);
}

TEST_CASE("B16 the admin token guards /admin/*, without one /admin is open",
          "[integration][http]") {
  const std::string admin = "adm-" + RandomHex(32);
  const std::string key = "sk-team-" + RandomHex(24);
  GwOptions o;
  o.server_extra = "  admin_token: ${ADM}\n";
  o.env = {{"ADM", admin}, {"K", key}};
  o.key_from_env = true;
  Gw f(o);
  for (const std::string& auth :
       std::vector<std::string>{"", "Bearer wrong-admin-token", "Bearer " + key, admin}) {
    INFO("Authorization: " << auth);
    Headers h;
    if (!auth.empty()) h.emplace_back("Authorization", auth);
    RawResponse r = RoundTrip(f.gw.port, BuildRequest("GET", "/admin/config", h));
    CHECK(ErrorShapeProblem(r, {401}) == "");
    CHECK(ErrorOf(r)["type"] == "authentication_error");
  }
  RawResponse ok = RoundTrip(
      f.gw.port, BuildRequest("GET", "/admin/config", {{"Authorization", "Bearer " + admin}}));
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body, nullptr, false).contains("config"));

  Gw open;
  RawResponse opened = RoundTrip(open.gw.port, BuildRequest("GET", "/admin/config"));
  CHECK(opened.status == 200);
}

TEST_CASE("B17 api_base, base_url and friends in the body are 400 unsupported_parameter",
          "[integration][http]") {
  Gw f;
  for (std::string field : {"api_base", "base_url", "api_key", "user_config", "extra_headers"}) {
    INFO(field);
    std::string value = field == "user_config"     ? R"({"api_base":"http://127.0.0.1:9/v1"})"
                        : field == "extra_headers" ? R"({"Authorization":"Bearer x"})"
                                                   : R"("http://127.0.0.1:9/v1")";
    RawResponse r =
        RoundTrip(f.gw.port, ChatRequest(ChatBody("hi", false, "\"" + field + "\":" + value)));
    CHECK(ErrorShapeProblem(r, {400}) == "");
    CHECK(ErrorOf(r)["code"] == "unsupported_parameter");
    CHECK(ErrorOf(r)["param"] == field);
  }
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("B18 an upstream redirect is not followed: 502", "[integration][http]") {
  Gw f;
  RawResponse r = RoundTrip(f.gw.port, ChatRequest(ChatBody("hi"), {{"x-mock-fault", "redirect"}}));
  CHECK(ErrorShapeProblem(r, {502}) == "");
  CHECK(ErrorOf(r)["code"] == "upstream_error");
  CHECK(r.body.find("127.0.0.1:9") == std::string::npos);
  CHECK(r.body.find("elsewhere") == std::string::npos);
  CHECK(f.small.Stats()["requests"] == 1);
}

TEST_CASE("B19 no configured secret appears in output, metrics, admin config or any response",
          "[integration][http]") {
  const std::string upstream_key = "sk-upstream-" + RandomHex(32);
  const std::string admin = "adm-" + RandomHex(32);
  const std::string key = "sk-client-" + RandomHex(32);
  const std::string wrong = "sk-wrong-" + RandomHex(32);  // presented by a client, never valid
  GwOptions o;
  o.server_extra = "  admin_token: ${ADM}\n";
  o.backend_extra = "    api_key: ${UPK}\n";
  o.small_args = {"--api-key", upstream_key};
  o.large_args = {"--api-key", "something-else-entirely"};  // answers 401: upstream_auth_error
  o.env = {{"ADM", admin}, {"K", key}, {"UPK", upstream_key}};
  o.key_from_env = true;
  Gw f(o);
  const Headers auth = {{"Authorization", "Bearer " + key}};
  const Headers adm = {{"Authorization", "Bearer " + admin}};
  std::vector<RawResponse> seen;
  auto run = [&](const std::string& req) { seen.push_back(RoundTrip(f.gw.port, req)); };
  run(ChatRequest(ChatBody("hi"), auth));
  CHECK(seen.back().status == 200);  // the upstream key reached the small mock
  run(ChatRequest(ChatBody("hi", true), auth));
  CHECK(seen.back().status == 200);
  run(ChatRequest(ChatBody("hi"), {{"Authorization", "Bearer " + key}, {"x-mock-fault", "500"}}));
  CHECK(seen.back().status == 502);  // small 500, then large rejects the gateway's key
  run(ChatRequest(ChatBody("hi"), {{"Authorization", "Bearer " + wrong}}));
  run(ChatRequest(ChatBody("hi"), {{"Authorization", "Basic " + key}}));
  run(ChatRequest(ChatBody("hi"), {{"Authorization", "Bearer " + key + " " + admin}}));
  run(ChatRequest("{", auth));
  run(BuildRequest("GET", "/admin/config", {{"Authorization", "Bearer " + wrong}}));
  run(BuildRequest("POST", "/admin/reload", {{"Authorization", "Bearer " + upstream_key}}));
  for (std::string path : {"/admin/config", "/admin/spend", "/metrics", "/readyz", "/healthz"}) {
    run(BuildRequest("GET", path, adm));
    CHECK(seen.back().status == 200);
  }
  run(BuildRequest("GET", "/v1/models", auth));
  run(BuildRequest("POST", "/v1/route",
                   {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}},
                   ChatBody("hi")));
  CHECK(f.gw.process->Signal(SIGTERM));
  f.gw.process->WaitFor(seconds(30));
  const std::string output = f.gw.process->Output();
  for (const auto& [name, secret] :
       std::vector<std::pair<std::string, std::string>>{{"upstream api_key", upstream_key},
                                                        {"admin token", admin},
                                                        {"client key", key},
                                                        {"presented wrong key", wrong}}) {
    // Any 8 consecutive characters of the random part count as a leak.
    std::string tail = secret.substr(secret.size() - 32);
    for (size_t i = 0; i + 8 <= tail.size(); i += 4) {
      std::string piece = tail.substr(i, 8);
      INFO(name << " piece " << piece);
      CHECK(output.find(piece) == std::string::npos);
      for (const auto& r : seen) {
        INFO(r.Describe(2000));
        CHECK(r.Describe(1u << 20).find(piece) == std::string::npos);
      }
    }
  }
}

TEST_CASE("D33 SSE headers survive Accept-Encoding: gzip, br", "[integration][http]") {
  Gw f;
  RawResponse r =
      RoundTrip(f.gw.port, ChatRequest(ChatBody("hi", true), {{"Accept-Encoding", "gzip, br"}}));
  CHECK(r.status == 200);
  CHECK(r.HeaderCount("Content-Type") == 1);
  CHECK(r.Header("Content-Type") == "text/event-stream");
  CHECK(r.Header("Cache-Control") == "no-cache");
  CHECK(r.Header("X-Accel-Buffering") == "no");
  CHECK_FALSE(r.Has("Content-Encoding"));
  CHECK(r.Has("x-request-id"));
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE(
    "D33 at server.max_streams a new stream gets a fast 503, health and plain requests answer",
    "[integration][http]") {
  GwOptions o;
  o.server_extra = "  max_streams: 2\n";
  o.small_args = {"--token-interval", "100", "--tokens", "600"};
  Gw f(o);
  std::vector<RawConnection> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(OpenRaw(f.gw.port));
    REQUIRE(held.back().Send(ChatRequest(ChatBody("long " + std::to_string(i), true))));
    auto head = held.back().ReadHead(seconds(10));
    REQUIRE(head);
    REQUIRE(head->status == 200);
  }
  RawResponse third = RoundTrip(f.gw.port, ChatRequest(ChatBody("third", true)), seconds(10));
  CHECK(ErrorShapeProblem(third, {503}) == "");
  CHECK(third.Has("retry-after"));
  // Fast: answered while both 60 s streams still hold their slots, not queued behind one.
  CHECK(f.small.Stats()["streams_completed"] == 0);
  RawResponse health = RoundTrip(f.gw.port, BuildRequest("GET", "/healthz"));
  CHECK(health.status == 200);
  RawResponse plain =
      RoundTrip(f.gw.port, ChatRequest(ChatBody("plain"), {{"x-mock-token-interval-ms", "0"}}));
  CHECK(plain.status == 200);
  // Closing the held streams frees their slots.
  held.clear();
  CHECK(f.small.WaitForCounter("client_disconnects", 2));
  bool freed = false;
  for (auto deadline = std::chrono::steady_clock::now() + seconds(10);
       !freed && std::chrono::steady_clock::now() < deadline;) {
    auto r = PostSse(f.gw.BaseUrl(), "/v1/chat/completions", ChatBody("again", true),
                     {{"x-mock-tokens", "2"}, {"x-mock-token-interval-ms", "0"}});
    freed = r.status == 200 && r.Done();
    if (!freed) std::this_thread::sleep_for(milliseconds(20));  // poll interval
  }
  CHECK(freed);
}

TEST_CASE("keep-alive: 100 sequential requests on one connection all succeed",
          "[integration][http]") {
  Gw f;
  RawConnection c = OpenRaw(f.gw.port);
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    bool chat = i % 2 == 0;
    REQUIRE(c.Send(chat ? ChatRequest(ChatBody("hi " + std::to_string(i)))
                        : BuildRequest("GET", "/healthz")));
    auto r = c.ReadResponse(seconds(10));
    if (!r) FAIL("request " << i << ": no response, closed=" << c.closed());
    ok += r->status == 200 ? 1 : 0;
  }
  CHECK(ok == 100);
  CHECK_FALSE(c.closed());
  CHECK(f.small.Stats()["requests"] == 50);
}

TEST_CASE("Expect: 100-continue gets 100 Continue, then the answer", "[integration][http]") {
  Gw f;
  RawConnection c = OpenRaw(f.gw.port);
  std::string body = ChatBody("hi");
  REQUIRE(
      c.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Expect: 100-continue\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  auto interim = c.ReadResponse(seconds(5));
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.Send(body));
  auto r = c.ReadResponse(seconds(10));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body, nullptr, false).value("object", "") == "chat.completion");
}

TEST_CASE(
    "Expect: 100-continue on a request the gateway refuses gets the refusal, not 100 Continue",
    "[integration][http]") {
  Gw f;
  // Over max_body_bytes (8 MiB), and an unknown path: a client that waits for 100 Continue
  // before uploading must not be told to send a body that will be thrown away.
  for (std::string target : {"/v1/chat/completions", "/v1/nope"}) {
    INFO(target);
    RawConnection c = OpenRaw(f.gw.port);
    REQUIRE(c.Send("POST " + target +
                   " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Expect: 100-continue\r\nContent-Length: 99999999\r\n\r\n"));
    auto r = c.ReadResponse(seconds(5));
    REQUIRE(r);
    CHECK(r->status != 100);
    CHECK(ErrorShapeProblem(*r, {404, 413}) == "");
  }
}

}  // namespace signalbox::testing
