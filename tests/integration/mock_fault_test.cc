// signalbox-mock fault injection and disconnect detection: what a gateway under test
// observes for each fault SPEC, and that a client leaving is counted
// (client_disconnects), which is how gateway tests prove an upstream was cancelled.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "integration/mock_process.h"
#include "integration/sse_client.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;

const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
const std::string kStreamChat =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

RunningMock Start(const std::vector<std::string>& args = {}) {
  auto mock = StartMock(args);
  INFO((mock.ok() ? std::string() : mock.status().message()));
  REQUIRE(mock.ok());
  return std::move(*mock);
}

httplib::Result Chat(const RunningMock& mock, const std::string& fault,
                     std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) {
  httplib::Client client(mock.BaseUrl());
  client.set_read_timeout(read_timeout);
  return client.Post("/v1/chat/completions", {{"x-mock-fault", fault}}, kChat, "application/json");
}

SseResponse Stream(const RunningMock& mock, const std::string& fault,
                   std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) {
  return PostSse(mock.BaseUrl(), "/v1/chat/completions", kStreamChat, {{"x-mock-fault", fault}},
                 nullptr, read_timeout);
}

// What a raw TCP client sees: the bytes, and how the connection ended.
struct RawResult {
  std::string bytes;
  int error = 0;  // errno of the failed recv (ECONNRESET), 0 on a clean EOF
};

RawResult RawExchange(int port, const std::string& request) {
  RawResult out;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  char buf[4096];
  bool timed_out = false;
  while (true) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) {  // the faults tested here all end the connection
      timed_out = true;
      break;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    out.error = n < 0 ? errno : 0;
    break;
  }
  close(fd);
  REQUIRE_FALSE(timed_out);
  return out;
}

std::string RawChat(const std::string& fault) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
         "x-mock-fault: " +
         fault + "\r\nContent-Length: " + std::to_string(kChat.size()) + "\r\n\r\n" + kChat;
}

TEST_CASE("mock status faults answer with OpenAI errors", "[mock]") {
  RunningMock mock = Start();
  struct Case {
    std::string spec;
    int status;
    json code;
  };
  const Case cases[] = {{"500", 500, nullptr},           {"502", 502, nullptr},
                        {"503", 503, nullptr},           {"400", 400, "context_length_exceeded"},
                        {"401", 401, "invalid_api_key"}, {"403", 403, "permission_denied"},
                        {"404", 404, "model_not_found"}, {"429", 429, "rate_limit_exceeded"}};
  for (const Case& c : cases) {
    INFO(c.spec);
    auto res = Chat(mock, c.spec);
    REQUIRE(res);
    CHECK(res->status == c.status);
    json error = json::parse(res->body)["error"];
    CHECK(error["code"] == c.code);
    CHECK(error["message"].is_string());
    CHECK(error["type"].is_string());
    CHECK(error.contains("param"));
  }
  CHECK(Chat(mock, "429")->get_header_value("retry-after") == "1");
  CHECK(Chat(mock, "429:7")->get_header_value("retry-after") == "7");

  auto res = Chat(mock, "redirect");
  CHECK(res->status == 302);
  CHECK(res->get_header_value("Location") == "http://127.0.0.1:9/elsewhere");

  res = Chat(mock, "explode:3");
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["message"].get<std::string>().find("explode:3") !=
        std::string::npos);

  json faults = mock.Stats()["faults"];
  CHECK(faults["429"] == 2);
  CHECK(faults["429:7"] == 1);
  CHECK(faults["503"] == 1);
  CHECK_FALSE(faults.contains("explode:3"));
}

TEST_CASE("mock --fault applies to every request unless a header overrides it", "[mock]") {
  RunningMock mock = Start({"--fault", "503"});
  httplib::Client client(mock.BaseUrl());
  CHECK(client.Get("/v1/models")->status == 503);
  CHECK(Chat(mock, "none")->status == 200);
  CHECK(Chat(mock, "502")->status == 502);
}

TEST_CASE("mock reset and cut faults break the connection", "[mock]") {
  RunningMock mock = Start({"--tokens", "5"});
  SECTION("reset sends a RST and no byte") {
    RawResult r = RawExchange(mock.port, RawChat("reset"));
    CHECK(r.bytes.empty());
    CHECK(r.error == ECONNRESET);
  }
  SECTION("cut on a plain answer sends part of the body, then closes") {
    RawResult r = RawExchange(mock.port, RawChat("cut:1"));
    REQUIRE(r.bytes.rfind("HTTP/1.1 200", 0) == 0);
    size_t head_end = r.bytes.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    size_t cl = r.bytes.find("Content-Length: ");
    REQUIRE(cl != std::string::npos);
    size_t declared = std::stoul(r.bytes.substr(cl + 16));
    size_t received = r.bytes.size() - head_end - 4;
    CHECK(received > 0);
    CHECK(received < declared);
    CHECK_FALSE(Chat(mock, "cut:1"));  // an HTTP client sees a failed read
  }
  SECTION("cut on a stream stops after N chunks without the terminating chunk") {
    SseResponse s = Stream(mock, "cut:2");
    CHECK(s.status == 200);
    CHECK(s.error != httplib::Error::Success);
    CHECK(s.events.size() == 3);  // role + 2 content chunks
    CHECK_FALSE(s.Done());
    SseResponse zero = Stream(mock, "cut:0");
    CHECK(zero.status == 200);
    CHECK(zero.events.empty());
    CHECK(zero.error != httplib::Error::Success);
  }
}

TEST_CASE("mock in-band stream faults", "[mock]") {
  RunningMock mock = Start({"--tokens", "5"});
  SECTION("error-event") {
    SseResponse s = Stream(mock, "error-event:1");
    CHECK(s.status == 200);
    CHECK(s.error == httplib::Error::Success);  // a clean end of the body
    REQUIRE(s.events.size() == 3);
    CHECK(json::parse(s.events[2]) ==
          json::parse(R"({"error":{"message":"mock upstream error","type":"server_error",)"
                      R"("param":null,"code":"mock_error"}})"));
    CHECK(Stream(mock, "error-event").events.size() == 1);  // no role chunk before it
  }
  SECTION("malformed") {
    SseResponse s = Stream(mock, "malformed:2");
    REQUIRE(s.Done());
    REQUIRE(s.events.size() == 5);  // role, 2 chunks, the broken one, [DONE]
    CHECK(json::parse(s.events[3], nullptr, false).is_discarded());
  }
  SECTION("empty-stream") {
    SseResponse s = Stream(mock, "empty-stream");
    CHECK(s.status == 200);
    CHECK(s.content_type == "text/event-stream");
    CHECK(s.error == httplib::Error::Success);
    CHECK(s.raw.empty());
  }
  SECTION("slow-first-byte answers normally") {
    CHECK(Stream(mock, "slow-first-byte:5").Done());
    CHECK(mock.Stats()["faults"]["slow-first-byte:5"] == 1);
  }
  CHECK(mock.WaitForCounter("in_flight", 0));
}

TEST_CASE("mock counts a client that leaves while it waits or streams", "[mock]") {
  RunningMock mock = Start();
  SECTION("hang: no byte until the client gives up") {
    auto res = Chat(mock, "hang", std::chrono::milliseconds(300));
    CHECK_FALSE(res);
    CHECK(res.error() == httplib::Error::Read);
  }
  SECTION("hang on a keep-alive connection that already waited once") {
    // The second request finds its socket through the per-thread cache of the first.
    httplib::Client client(mock.BaseUrl());
    client.set_keep_alive(true);
    // The first request must succeed however slow the machine (or a sanitizer) is; only
    // the hang is cut short.
    client.set_read_timeout(std::chrono::seconds(30));
    auto first = client.Get("/v1/models", {{"x-mock-latency-ms", "1"}});
    REQUIRE(first);
    CHECK(first->status == 200);
    client.set_read_timeout(std::chrono::milliseconds(300));
    CHECK_FALSE(client.Get("/v1/models", {{"x-mock-fault", "hang"}}));
  }
  SECTION("latency, before the first byte") {
    httplib::Client client(mock.BaseUrl());
    client.set_read_timeout(std::chrono::milliseconds(300));
    CHECK_FALSE(client.Get("/v1/models", {{"x-mock-latency-ms", "600000"}}));
  }
  SECTION("stall: N chunks, then silence") {
    SseResponse s = Stream(mock, "stall:1", std::chrono::milliseconds(1000));
    CHECK(s.status == 200);
    CHECK(s.error == httplib::Error::Read);
    CHECK(s.events.size() == 2);  // role + 1 content chunk, then nothing
  }
  SECTION("mid-stream, while the mock paces tokens") {
    SseResponse s = PostSse(mock.BaseUrl(), "/v1/chat/completions", kStreamChat,
                            {{"x-mock-token-interval-ms", "600000"}},
                            [](const SseResponse& r) { return r.events.size() == 1; });
    CHECK(s.events.size() == 1);
    CHECK(s.error == httplib::Error::Canceled);
  }
  // Polled: the mock notices the close within its 50 ms poll slice.
  CHECK(mock.WaitForCounter("client_disconnects", 1));
  INFO("mock running: " << mock.process->Running() << "\n" << mock.process->Output());
  CHECK(mock.WaitForCounter("in_flight", 0));
}

}  // namespace
}  // namespace signalbox::testing
