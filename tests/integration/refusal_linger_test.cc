// Refusals a client can read (issue 15 section 1; docs/security.md "HTTP framing and
// connections"): a client that uploads its whole body before reading the answer must
// finish the upload and read the refusal, whatever refused it (413, 401, 431, 404, 503
// overload), because the gateway discards the rest of the body before closing (lingering
// close, RFC 9112 9.6). Checked with raw sockets and with the official openai npm SDK.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/gateway_fixture.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/process.h"
#include "integration/raw_http.h"

namespace signalbox::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kKey = "sk-linger-test-0123456789abcdef";

struct Gw : MocksAndGateway {
  Gw(const std::string& server_extra, bool keys)
      : MocksAndGateway(server_extra, keys ? kKey : "") {}
};

std::string Head(const std::string& target, const std::string& auth, size_t len,
                 const std::string& extra = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         (auth.empty() ? "" : "Authorization: " + auth + "\r\n") + extra +
         "Content-Length: " + std::to_string(len) + "\r\n\r\n";
}

struct Upload {
  bool sent = false;
  std::optional<RawResponse> response;
  bool closed = false;
};

// Sends head + body completely before reading anything (as the Node SDK does), then
// reads the answer.
Upload UploadThenRead(int port, const std::string& head, const std::string& body) {
  Upload u;
  RawConnection c = OpenRaw(port);
  std::thread sender([&] { u.sent = c.Send(head + body, seconds(60)); });
  sender.join();
  u.response = c.ReadResponse(seconds(10));
  u.closed = c.WaitForClose(seconds(40));
  return u;
}

}  // namespace

TEST_CASE("L1 a client that uploads its whole body reads the early refusal: 413, 401, 431, 404",
          "[integration][http][linger]") {
  // Bodies far larger than the socket buffers, so the client is still writing when
  // the refusal comes: 16 MiB under the 32 MiB limit, 40 MiB over it.
  Gw f("  max_body_bytes: 32MiB\n", /*keys=*/true);
  const std::string body(16u << 20, 'a');
  const std::string over(40u << 20, 'a');
  std::string many_headers;
  for (int i = 0; i < 150; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  struct Case {
    const char* name;
    std::string head;
    int status;
    bool over = false;
  } cases[] = {
      {"413 body over max_body_bytes", Head("/v1/chat/completions", "Bearer " + kKey, over.size()),
       413, true},
      {"401 wrong key", Head("/v1/chat/completions", "Bearer sk-wrong", body.size()), 401},
      {"431 too many headers",
       Head("/v1/chat/completions", "Bearer " + kKey, body.size(), many_headers), 431},
      {"404 unknown path", Head("/v1/nothing-here", "Bearer " + kKey, body.size()), 404},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Upload u = UploadThenRead(f.gw.port, c.head, c.over ? over : body);
    CHECK(u.sent);  // no reset while the client was still writing
    REQUIRE(u.response);
    CHECK(ErrorShapeProblem(*u.response, {c.status}) == "");
    CHECK(u.response->Header("Connection") == "close");
    CHECK(u.closed);
  }
  // The next client is served as usual.
  RawResponse ok =
      RoundTrip(f.gw.port, ChatRequest(ChatBody("hi"), {{"Authorization", "Bearer " + kKey}}));
  CHECK(ok.status == 200);
}

TEST_CASE("L2 a connection shed at the connection cap (503) can finish its upload and read the 503",
          "[integration][http][linger]") {
  Gw f(
      "  max_body_bytes: 64KiB\n  max_connections: 16\n  max_streams: 8\n"
      "  timeouts: {header: 60s, body: 60s}\n",
      /*keys=*/false);
  // 16 connections with a request in progress (head sent, body pending) take every
  // slot; such connections are not reclaimable. A holder whose head had not arrived yet
  // can be reclaimed by the probe: top the holders up until a probe is shed.
  std::vector<RawConnection> busy;
  auto fill = [&] {
    for (int round = 0; round < 200; ++round) {
      std::vector<RawConnection> alive;
      for (auto& b : busy) {
        if (!b.WaitForClose(milliseconds(1))) alive.push_back(std::move(b));
      }
      busy = std::move(alive);
      while (busy.size() < 16) {
        busy.push_back(OpenRaw(f.gw.port));
        if (!busy.back().Send(Head("/v1/chat/completions", "", 1000) + "{")) return false;
      }
      RawResponse probe = RoundTrip(f.gw.port, BuildRequest("GET", "/healthz"));
      if (probe.status == 503) return true;
    }
    return false;
  };
  // A slot can still free up between the probe and the upload (a worker that was just
  // finishing a connection): then the upload is served, refused with 413 and must be
  // readable too; try again until one is shed.
  const std::string body(4u << 20, 'a');
  bool saw_503 = false;
  for (int attempt = 0; attempt < 20 && !saw_503; ++attempt) {
    INFO("attempt " << attempt);
    REQUIRE(fill());
    Upload u = UploadThenRead(f.gw.port, Head("/v1/chat/completions", "", body.size()), body);
    CHECK(u.sent);
    REQUIRE(u.response);
    INFO(u.response->Describe(80));
    CHECK(u.closed);
    saw_503 = u.response->status == 503;
    if (saw_503) {  // written before any byte is parsed: no request id
      CHECK(ErrorOf(*u.response)["code"] == "overloaded");
      CHECK(u.response->Header("Retry-After") == "1");
    } else {
      CHECK(ErrorShapeProblem(*u.response, {413}) == "");
    }
  }
  CHECK(saw_503);
}

TEST_CASE("L3 the official openai npm SDK raises a 413 APIError naming the limit, without retrying",
          "[integration][http][linger][sdk]") {
  if (std::system("command -v npm >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: npm missing (install Node.js and npm, then make deps)");
    return;
  }
  const std::string dir = std::string(SIGNALBOX_SOURCE_DIR) + "/tests/clients";
  if (std::system(("test -d " + dir + "/node_modules/openai").c_str()) != 0) {
    FAIL("tests/clients/node_modules is missing: run make deps (scripts/install-deps)");
  }
  Gw f("  max_body_bytes: 64KiB\n", /*keys=*/false);
  for (const char* retries : {"0", "default"}) {
    INFO("maxRetries: " << retries);
    ProcessOptions po;
    po.argv = {"node",        dir + "/openai_refusal.mjs", f.gw.BaseUrl() + "/v1",
               "sk-anything", std::to_string(16u << 20),   retries};
    po.working_dir = dir;
    auto p = Process::Start(po);
    REQUIRE(p.ok());
    auto line = (*p)->WaitForLine([](const std::string& l) { return !l.empty() && l[0] == '{'; },
                                  seconds(120));
    INFO((*p)->Output());
    REQUIRE(line);
    json out = json::parse(*line);
    INFO(out.dump());
    CHECK(out["ok"] == false);
    CHECK(out["isApiError"] == true);
    CHECK(out["isConnectionError"] == false);
    CHECK(out["status"] == 413);
    CHECK(out["message"].get<std::string>().find("65536") != std::string::npos);
    CHECK(out["attempts"] == 1);  // a readable 413 is not retried: the body went up once
  }
}

}  // namespace signalbox::testing
