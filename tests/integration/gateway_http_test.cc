// The gateway's HTTP front under malformed, oversized, smuggled and slow input (catalogue
// 4.A of shared/notes/reliability-tests.md): every answer is an OpenAI-shaped JSON error
// with the right status, framing attacks close the connection, the process survives.
#include <httplib.h>

#include <atomic>
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
using Headers = std::vector<std::pair<std::string, std::string>>;

// 64 KiB body limit, 1 s to send a request head.
constexpr const char* kServerExtra = "  max_body_bytes: 64KiB\n  timeouts: {header: 1s}\n";

struct Gw : MocksAndGateway {
  explicit Gw(const std::string& server_extra = kServerExtra) : MocksAndGateway(server_extra) {}
  // The same process still serves /healthz.
  bool Alive(pid_t pid) const {
    auto res = gw.Client()->Get("/healthz");
    return gw.process->Pid() == pid && gw.process->Running() && res && res->status == 200;
  }
};

const std::string kSmuggled = BuildRequest("GET", "/admin/config");

}  // namespace

TEST_CASE("A1 malformed JSON is a 400 invalid_json and never reaches an upstream",
          "[integration][http]") {
  Gw f;
  for (std::string body :
       {R"({"model":)", "not json", "", "[1,2]", R"({"model":"auto"} trailing)"}) {
    INFO("body: " << body);
    RawResponse r = RoundTrip(f.gw.port, ChatRequest(body));
    CHECK(ErrorShapeProblem(r, {400}) == "");
    CHECK(ErrorOf(r)["type"] == "invalid_request_error");
    CHECK(ErrorOf(r)["code"] == "invalid_json");
  }
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A2 schema violations are 400 with param naming the field", "[integration][http]") {
  Gw f;
  const std::string msg = R"([{"role":"user","content":"hi"}])";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"model":"auto","messages":"hi"})", "messages"},
      {R"({"messages":)" + msg + "}", "model"},
      {R"({"model":5,"messages":)" + msg + "}", "model"},
      {R"({"model":"auto","max_tokens":-1,"messages":)" + msg + "}", "max_tokens"},
      {R"({"model":"auto","max_tokens":1000000000000,"messages":)" + msg + "}", "max_tokens"},
      {R"({"model":"auto","stream":"yes","messages":)" + msg + "}", "stream"},
      {R"({"model":"auto","messages":["hi"]})", "messages[0]"},
      {R"({"model":"auto","messages":[{"role":"user","content":42}]})", "messages[0].content"},
      {R"({"model":"auto","messages":[{"role":7,"content":"x"}]})", "messages[0].role"},
      {R"({"model":"auto","stream_options":{"include_usage":"yes"},"messages":)" + msg + "}",
       "stream_options.include_usage"},
      {R"({"model":"auto","temperature":"hot","messages":)" + msg + "}", "temperature"},
  };
  for (const auto& [body, param] : cases) {
    INFO("body: " << body);
    RawResponse r = RoundTrip(f.gw.port, ChatRequest(body));
    CHECK(ErrorShapeProblem(r, {400}) == "");
    CHECK(ErrorOf(r)["type"] == "invalid_request_error");
    CHECK(ErrorOf(r)["param"] == param);
  }
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A3 an unknown model is 404 model_not_found without internal addresses",
          "[integration][http]") {
  Gw f;
  RawResponse r = RoundTrip(
      f.gw.port, ChatRequest(R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})"));
  CHECK(ErrorShapeProblem(r, {404}) == "");
  CHECK(ErrorOf(r)["type"] == "invalid_request_error");
  CHECK(ErrorOf(r)["code"] == "model_not_found");
  CHECK(r.body.find(f.small.HostPort()) == std::string::npos);
  CHECK(r.body.find(f.large.HostPort()) == std::string::npos);
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE(
    "A4 a body over max_body_bytes is 413, the connection closes, a pipelined request is not "
    "served",
    "[integration][http]") {
  Gw f;
  RawConnection c = OpenRaw(f.gw.port);
  std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000\r\n\r\n";
  c.Send(head + kSmuggled);
  auto all = c.ReadAll(seconds(5));
  REQUIRE(!all.empty());
  CHECK(ErrorShapeProblem(all[0], {413}) == "");
  CHECK(all.size() == 1);
  CHECK(c.closed());
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A5 a chunked request body is 411 and closes, a large one leaves RSS flat",
          "[integration][http]") {
  Gw f;
  for (std::string te : {"chunked", "gzip, chunked", "Chunked", "identity"}) {
    INFO("Transfer-Encoding: " << te);
    RawConnection c = OpenRaw(f.gw.port);
    c.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
           "\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + kSmuggled);
    auto all = c.ReadAll(seconds(5));
    REQUIRE(!all.empty());
    CHECK(ErrorShapeProblem(all[0], {411}) == "");
    CHECK(all.size() == 1);
    CHECK(c.closed());
  }
  pid_t pid = f.gw.process->Pid();
  int64_t before = RssKib(pid);
  RawConnection c = OpenRaw(f.gw.port);
  REQUIRE(c.Send(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
  size_t sent = 0;
  while (sent < (200u << 20) && c.Send(chunk, seconds(2))) sent += chunk.size();
  auto r = c.ReadResponse(seconds(5));
  REQUIRE(r);
  CHECK(r->status == 411);
  CHECK(c.WaitForClose(seconds(5)));
  int64_t after = RssKib(pid);
  INFO("RSS " << before << " KiB -> " << after << " KiB after " << sent
              << " body bytes were accepted");
  CHECK(after - before < 10 * 1024);
  CHECK(f.Alive(pid));
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A6 a POST without Content-Length is 411 at once, without reading until EOF",
          "[integration][http]") {
  Gw f;
  RawConnection c = OpenRaw(f.gw.port);
  // The write side stays open: a server reading the body until EOF would never answer.
  c.Send(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"
      R"({"model":"auto","messages":[{"role":"user","content":"hi"}]})");
  auto r = c.ReadResponse(seconds(5));
  REQUIRE(r);
  CHECK(ErrorShapeProblem(*r, {411}) == "");
  CHECK(c.WaitForClose(seconds(5)));
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A7 a compressed request body is 415 and never inflated", "[integration][http]") {
  Gw f;
  // A gzip bomb: 50 MB of zeros in about 50 KB.
  std::string bomb;
  httplib::detail::gzip_compressor gz;
  const std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 50; ++i) {
    gz.compress(zeros.data(), zeros.size(), i == 49, [&](const char* d, size_t n) {
      bomb.append(d, n);
      return true;
    });
  }
  REQUIRE(bomb.size() < 64 * 1024);
  pid_t pid = f.gw.process->Pid();
  int64_t before = RssKib(pid);
  for (std::string enc : {"gzip", "br", "deflate"}) {
    INFO("Content-Encoding: " << enc);
    RawResponse r = RoundTrip(f.gw.port, ChatRequest(bomb, {{"Content-Encoding", enc}}));
    CHECK(ErrorShapeProblem(r, {415}) == "");
  }
  CHECK(RssKib(pid) - before < 10 * 1024);
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A8 slowloris: dripping connections are closed after timeouts.header, others are served",
          "[integration][http]") {
  Gw f;
  constexpr int kDrippers = 300;
  std::vector<RawConnection> drips;
  for (int i = 0; i < kDrippers; ++i) drips.push_back(OpenRaw(f.gw.port));
  const std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'z');
  std::atomic<bool> stop{false};
  std::vector<char> open(kDrippers, 1);
  std::thread dripper([&] {
    // The attack itself: one byte per connection every 300 ms.
    for (size_t i = 0; i < head.size() && !stop; ++i) {
      for (int k = 0; k < kDrippers; ++k) {
        if (open[k] && !drips[k].Send(std::string_view(&head[i], 1), milliseconds(50))) open[k] = 0;
      }
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
  // Meanwhile a normal client is served.
  auto cli = f.gw.Client(seconds(10));
  auto ok = cli->Post("/v1/chat/completions", ChatBody("hello"), "application/json");
  auto health = cli->Get("/healthz");
  CHECK((ok && ok->status == 200));
  CHECK((health && health->status == 200));
  // Every dripping connection is closed within a generous margin of the 1 s header timeout.
  int closed = 0;
  for (auto& d : drips) closed += d.WaitForClose(seconds(5)) ? 1 : 0;
  stop = true;
  dripper.join();
  CHECK(closed == kDrippers);
  if (auto r = drips[0].ReadResponse(milliseconds(10)))
    CHECK(ErrorShapeProblem(*r, {408, 431}) == "");
  CHECK(f.Alive(f.gw.process->Pid()));
}

TEST_CASE("A9 a 100 KB header line and 200000 headers are refused with bounded memory",
          "[integration][http]") {
  Gw f;
  pid_t pid = f.gw.process->Pid();
  int64_t before = RssKib(pid);
  {
    RawConnection c = OpenRaw(f.gw.port);
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 * 1024, 'a') +
           "\r\n\r\n");
    auto all = c.ReadAll(seconds(5));
    CHECK(c.closed());
    CHECK(all.size() <= 1);
    if (!all.empty()) CHECK(ErrorShapeProblem(all[0], {431}) == "");
  }
  {
    std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 200000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    many += "\r\n";
    RawConnection c = OpenRaw(f.gw.port);
    c.Send(many, seconds(5));
    auto all = c.ReadAll(seconds(5));
    CHECK(c.closed());
    CHECK(all.size() <= 1);
    if (!all.empty()) CHECK(ErrorShapeProblem(all[0], {431}) == "");
  }
  {  // Over server.max_headers (100) but small in bytes: the count limit answers 431.
    Headers h;
    for (int i = 0; i < 150; ++i) h.emplace_back("X-H" + std::to_string(i), "v");
    RawResponse r = RoundTrip(f.gw.port, BuildRequest("GET", "/healthz", h));
    CHECK(ErrorShapeProblem(r, {431}) == "");
  }
  int64_t after = RssKib(pid);
  INFO("RSS " << before << " KiB -> " << after << " KiB");
#if defined(__SANITIZE_THREAD__)
  constexpr int64_t kShadowFactor = 8;  // ThreadSanitizer's shadow memory per touched byte
#else
  constexpr int64_t kShadowFactor = 1;
#endif
  CHECK(after - before < 10 * 1024 * kShadowFactor);  // a 20 MB attack is not buffered
  CHECK(f.Alive(pid));
}

TEST_CASE(
    "A10 smuggling shapes are refused, the connection closes, a pipelined request is not served",
    "[integration][http]") {
  Gw f;
  const std::string body = "0\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"CL+TE", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"},
      {"TE+CL", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"},
      {"two CL", "Content-Length: 5\r\nContent-Length: 44\r\n"},
      {"two CL, different case", "Content-Length: 5\r\ncontent-length: 44\r\n"},
      {"CL +5", "Content-Length: +5\r\n"},
      {"CL 0x10", "Content-Length: 0x10\r\n"},
      {"CL -5", "Content-Length: -5\r\n"},
      {"CL list", "Content-Length: 5, 5\r\n"},
  };
  for (const auto& [name, framing] : cases) {
    INFO(name);
    RawConnection c = OpenRaw(f.gw.port);
    c.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n" + body +
           kSmuggled);
    auto all = c.ReadAll(seconds(5));
    REQUIRE(!all.empty());
    CHECK(ErrorShapeProblem(all[0], {400, 411}) == "");
    CHECK(all.size() == 1);
    CHECK(c.closed());
  }
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A11 a client header named like an internal one (REMOTE_ADDR) is 400",
          "[integration][http]") {
  Gw f;
  for (std::string name :
       {"REMOTE_ADDR", "remote_addr", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"}) {
    INFO(name);
    RawResponse get = RoundTrip(f.gw.port, BuildRequest("GET", "/healthz", {{name, "10.0.0.1"}}));
    CHECK(ErrorShapeProblem(get, {400}) == "");
    RawResponse post = RoundTrip(f.gw.port, ChatRequest(ChatBody("hi"), {{name, "10.0.0.1"}}));
    CHECK(ErrorShapeProblem(post, {400}) == "");
  }
  CHECK(f.UpstreamRequests() == 0);
}

TEST_CASE("A12 Range never slices a response: full JSON, no 206/416, no Content-Range",
          "[integration][http]") {
  Gw f;
  std::string many = "bytes=0-0";  // as many ranges as fit in httplib's 8 KiB header line
  for (int i = 1; many.size() < 7900; ++i)
    many += "," + std::to_string(i) + "-" + std::to_string(i);
  for (std::string range :
       {"bytes=0-3", "bytes=-2", many.c_str(), "bytes=9-3", "bytes=abc", "bytes=0-3,9-3"}) {
    INFO("Range: " << range.substr(0, 40));
    f.small.ResetStats();
    RawResponse ok = RoundTrip(f.gw.port, ChatRequest(ChatBody("hi"), {{"Range", range}}));
    CHECK(ok.status == 200);
    CHECK_FALSE(ok.Has("Content-Range"));
    auto j = json::parse(ok.body, nullptr, false);
    CHECK((j.is_object() && j.value("object", "") == "chat.completion"));
    // The upstream must not see the Range either: its 206 would be relayed as is.
    json up = f.small.LastRequest();
    if (up.is_object())
      CHECK_FALSE((up["headers"].contains("range") || up["headers"].contains("Range")));
    RawResponse err = RoundTrip(f.gw.port, ChatRequest("{", {{"Range", range}}));
    CHECK(ErrorShapeProblem(err, {400}) == "");
    CHECK_FALSE(err.Has("Content-Range"));
  }
}

TEST_CASE("A13 path attacks get JSON 404/405/414 and do not crash the gateway",
          "[integration][http]") {
  Gw f;
  pid_t pid = f.gw.process->Pid();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET", "/" + std::string(8192, 'a')},
      {"GET", "/v1/" + std::string(8000, 'a')},
      {"GET", "/v1/models/" + std::string(5000, 'x')},
      {"GET", "/v1/models/" + std::string(2000, '(')},
      {"GET", "/v1/../admin/config"},
      {"GET", "/v1/models/%2e%2e/%2e%2e/admin/config"},
      {"GET", "/healthz%00"},
      {"GET", "/v1/models%00.json"},
      {"TRACE", "/"},
      {"TRACE", "/v1/chat/completions"},
      {"DELETE", "/v1/models"},
  };
  for (const auto& [method, target] : cases) {
    INFO(method << " " << target.substr(0, 60) << " (" << target.size() << " chars)");
    RawResponse r = RoundTrip(f.gw.port, BuildRequest(method, target));
    CHECK(ErrorShapeProblem(r, {404, 405, 414}) == "");
  }
  CHECK(f.Alive(pid));
}

TEST_CASE("A15 a client header with CR, LF or NUL cannot reach the upstream as another header",
          "[integration][http]") {
  Gw f;
  const std::string body = ChatBody("hi");
  const std::vector<std::string> lines = {
      "X-Enc: a%0d%0aInjected: 1",               // percent-decoded by httplib 0.11.4
      "X-Cr: a\rInjected: 1",                    // bare CR in a value
      std::string("X-Nul: a\0Injected: 1", 20),  // NUL in a value
      "X-Name\rInjected: 1",                     // bare CR in a name
      "Transfer-Encoding : chunked",  // not a token name: a lenient upstream would see TE
      "Content-Length\t: 0",
  };
  for (const auto& line : lines) {
    INFO("client header line " << json(line).dump());
    f.small.ResetStats();
    std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + line + "\r\n";
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size());
    RawResponse r = RoundTrip(f.gw.port, req + "\r\n\r\n" + body);
    if (r.status != 200) {  // refusing the request is fine too
      CHECK(ErrorShapeProblem(r, {400}) == "");
      CHECK(f.small.Stats()["requests"] == 0);
      continue;
    }
    json seen = f.small.LastRequest();
    REQUIRE(seen.is_object());
    for (const auto& [name, value] : seen["headers"].items()) {
      INFO("upstream saw header " << json(name).dump() << ": " << value.dump());
      std::string lower = name;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      CHECK(lower.find("injected") == std::string::npos);
      // Names are RFC 9110 tokens; values have no CR, LF or NUL.
      CHECK(name.find_first_not_of("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos);
      std::string v = value.is_string() ? value.get<std::string>() : value.dump();
      CHECK(v.find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
    }
  }
}

}  // namespace signalbox::testing
