// HTTP framing and connection limits (docs/security.md, "HTTP framing and connections";
// issue 16 rows 3, 7 and 10): bare line breaks in a request head, Host and the absolute
// form of the target, connections that send nothing, bodies that trickle, and health
// probes while every connection slot is taken.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/gateway_fixture.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/raw_http.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

struct Gw : MocksAndGateway {
  explicit Gw(const std::string& server_extra) : MocksAndGateway(server_extra) {}
};

std::string CodeOf(const RawResponse& r) {
  json e = ErrorOf(r);
  return e.is_object() && e["code"].is_string() ? e["code"].get<std::string>() : "";
}

const std::string kChat = R"({"model":"auto","messages":[{"role":"user","content":"hi"}]})";

}  // namespace

TEST_CASE("S3 a bare LF or bare CR in the request head is 400 and closes, nothing is smuggled",
          "[integration][http][framing]") {
  Gw f("  max_body_bytes: 64KiB\n");
  const std::string smuggled = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string wrapped = fmt::format("{:x}\r\n", smuggled.size()) + smuggled + "\r\n0\r\n\r\n";
  struct Case {
    const char* name;
    std::string bytes;
  } cases[] = {
      // Content-Length 4 covers "25\r\n": a parser that drops the bare-LF line reads the
      // chunk's payload as a second request.
      {"bare LF after Transfer-Encoding",
       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Transfer-Encoding: chunked\nContent-Length: 4\r\n\r\n" +
           wrapped},
      {"bare LF inside a header line",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Lf: a\nInjected: 1\r\n\r\n" + smuggled},
      {"bare CR inside a header line",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Cr: a\rInjected: 1\r\n\r\n" + smuggled},
      {"bare LF ending the request line", "GET /healthz HTTP/1.1\nHost: x\r\n\r\n" + smuggled},
      {"bare LF ending the blank line", "GET /healthz HTTP/1.1\r\nHost: x\r\n\n" + smuggled},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    RawConnection conn = OpenRaw(f.gw.port);
    REQUIRE(conn.Send(c.bytes));
    auto all = conn.ReadAll(seconds(10));
    REQUIRE(!all.empty());
    CHECK(ErrorShapeProblem(all[0], {400}) == "");
    CHECK(all.size() == 1);  // the smuggled GET is never answered
    CHECK(conn.closed());
    for (const auto& r : all) CHECK(!r.Has("Injected"));
  }
  // Line breaks inside a body are data: a pretty-printed JSON body and a pipelined second
  // request on the same connection are served.
  const std::string pretty =
      "{\n  \"model\": \"auto\",\r\n  \"messages\": [{\"role\": \"user\", \"content\": "
      "\"a\\nb\"}]\n}";
  RawConnection conn = OpenRaw(f.gw.port);
  REQUIRE(conn.Send(ChatRequest(pretty) + ChatRequest(pretty)));
  auto first = conn.ReadResponse(seconds(10));
  auto second = conn.ReadResponse(seconds(10));
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(second->status == 200);
  CHECK(f.UpstreamRequests() == 2);
}

TEST_CASE("S7 HTTP/1.1 needs exactly one valid Host, the absolute form of the target is served",
          "[integration][http][framing]") {
  Gw f("  max_body_bytes: 64KiB\n");
  struct Case {
    const char* name;
    std::string bytes;
    int status;
  } cases[] = {
      {"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"two Hosts on a POST",
       "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nhost: b\r\nContent-Type: "
       "application/json\r\n"
       "Content-Length: " +
           std::to_string(kChat.size()) + "\r\n\r\n" + kChat,
       400},
      {"a malformed Host", "GET /healthz HTTP/1.1\r\nHost: a/b c\r\n\r\n", 400},
      {"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", 200},
      {"an IPv6 Host with a port", "GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200},
      {"absolute form, GET", "GET http://gw.example/healthz HTTP/1.1\r\nHost: gw.example\r\n\r\n",
       200},
      {"absolute form, POST",
       "POST http://gw.example:8080/v1/chat/completions HTTP/1.1\r\nHost: gw.example:8080\r\n"
       "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(kChat.size()) + "\r\n\r\n" + kChat,
       200},
      {"absolute form, https and a query",
       "GET HTTPS://gw.example/healthz?x=1 HTTP/1.1\r\nHost: gw.example\r\n\r\n", 200},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    RawConnection conn = OpenRaw(f.gw.port);
    REQUIRE(conn.Send(c.bytes));
    auto r = conn.ReadResponse(seconds(10));
    REQUIRE(r);
    INFO(r->Describe());
    CHECK(r->status == c.status);
    if (c.status == 400) {
      CHECK(ErrorShapeProblem(*r, {400}) == "");
      CHECK(CodeOf(*r) == "invalid_host");
      CHECK(conn.WaitForClose(seconds(10)));
    }
  }
  CHECK(f.UpstreamRequests() == 1);  // only the absolute-form POST
}

TEST_CASE("S10a a connection that sends nothing is closed after timeouts.header from the accept",
          "[integration][http][framing]") {
  // The keep-alive idle timeout (60 s) applies between requests only.
  Gw f("  timeouts: {header: 1s, idle: 60s}\n");
  RawConnection silent = OpenRaw(f.gw.port);
  CHECK(silent.WaitForClose(seconds(20)));
  // A connection that has been served waits for its next request for the idle timeout,
  // well past the header timeout, and is served again.
  RawConnection kept = OpenRaw(f.gw.port);
  REQUIRE(kept.Send(BuildRequest("GET", "/healthz")));
  auto r1 = kept.ReadResponse(seconds(10));
  REQUIRE(r1);
  CHECK(r1->status == 200);
  CHECK_FALSE(kept.WaitForClose(seconds(3)));
  REQUIRE(kept.Send(BuildRequest("GET", "/healthz")));
  auto r2 = kept.ReadResponse(seconds(10));
  REQUIRE(r2);
  CHECK(r2->status == 200);
}

TEST_CASE("S10b a body trickled below min_body_rate is refused with 408 and the connection closes",
          "[integration][http][framing]") {
  // Allowance: 2 s plus 1 s per 4 KiB received. One byte every 300 ms never earns more.
  Gw f("  min_body_rate: 4KiB\n  timeouts: {header: 2s, body: 2s}\n");
  RawConnection conn = OpenRaw(f.gw.port);
  const std::string body = R"({"model":"auto","messages":[{"role":"user","content":")" +
                           std::string(200, 'a') + R"("}]})";
  REQUIRE(conn.Send(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n"));
  size_t sent = 0;
  auto give_up = Clock::now() + seconds(60);
  while (sent < body.size() && Clock::now() < give_up) {
    if (!conn.Send(std::string_view(&body[sent], 1), seconds(1))) break;
    ++sent;
    if (conn.WaitForClose(milliseconds(300))) break;
  }
  INFO("body bytes sent before the gateway closed: " << sent << " of " << body.size());
  CHECK(sent < body.size());
  CHECK(conn.WaitForClose(seconds(10)));
  auto r = conn.ReadResponse(seconds(1));
  REQUIRE(r);
  CHECK(ErrorShapeProblem(*r, {408}) == "");
  CHECK(CodeOf(*r) == "request_timeout");
  CHECK(f.UpstreamRequests() == 0);
  // A client that sends its body at once is unaffected.
  RawResponse ok = RoundTrip(f.gw.port, ChatRequest(body));
  CHECK(ok.status == 200);
}

TEST_CASE("S10c health probes and new clients are served while idle connections fill every slot",
          "[integration][http][framing]") {
  // 32 connection slots, 300 connections that send nothing; the header timeout is long,
  // so only reclaiming idle connections can make room.
  Gw f("  max_connections: 32\n  max_streams: 8\n  timeouts: {header: 60s}\n");
  std::vector<RawConnection> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(OpenRaw(f.gw.port));
  // While the burst of 300 is still being accepted, a probe can land when every slot is
  // changing hands (an eviction in flight) and be shed: a probe may retry, as Kubernetes
  // probes do (failureThreshold 3), but must not be refused for good.
  std::vector<double> ms;
  int shed = 0;
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    RawResponse r;
    for (int tries = 0; tries < 3; ++tries) {
      r = RoundTrip(f.gw.port, BuildRequest("GET", "/healthz"));
      if (r.status != 503) break;
      ++shed;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    INFO(r.Describe());
    CHECK(r.status == 200);
  }
  if (shed > 0) WARN(shed << " probe(s) shed while the burst was accepted, then served on retry");
  RawResponse chat = RoundTrip(f.gw.port, ChatRequest(kChat));
  CHECK(chat.status == 200);
  std::sort(ms.begin(), ms.end());
  WARN("healthz under 300 idle connections (32 slots): median " << ms[ms.size() / 2] << " ms, max "
                                                                << ms.back() << " ms");
  // The reclaimed connections were closed, not left hanging.
  int closed = 0;
  for (auto& c : idle) closed += c.WaitForClose(milliseconds(50)) ? 1 : 0;
  CHECK(closed >= 300 - 32);
}

}  // namespace signalbox::testing
