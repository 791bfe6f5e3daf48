#include "common/log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "metrics/access_log.h"

using namespace signalbox;

TEST_CASE("CutForLog keeps short strings and cuts long ones on a character boundary, marked",
          "[common][log][security]") {
  std::string scratch;
  CHECK(CutForLog("short", 10, &scratch) == "short");
  std::string s = std::string(9, 'a') + "\xC3\xA9" + std::string(100, 'b');  // é straddles byte 10
  std::string_view cut = CutForLog(s, 10, &scratch);
  CHECK(cut.substr(0, 9) == std::string(9, 'a'));
  CHECK(cut.find("...[cut 102 bytes]") != std::string_view::npos);
  CHECK(cut.size() < 40);
}

TEST_CASE("a log line with a 4 MiB field stays bounded", "[common][log][security]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  SetLogFd(fds[1]);
  std::string huge(4 << 20, '9');
  Log(LogLevel::kError, "handler failed")
      .Field("error", huge)
      .Field("path", std::string_view(huge));
  SetLogFd(2);
  ::close(fds[1]);
  std::string line;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) line.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  CHECK(line.size() < 3 * kMaxLogFieldBytes);
  auto j = nlohmann::json::parse(line);
  CHECK(j["error"].get<std::string>().find("...[cut ") != std::string::npos);
}

TEST_CASE("the access log cuts a client-controlled model name to 256 bytes",
          "[metrics][access_log][security]") {
  metrics::AccessRecord r;
  r.request_id = "r1";
  r.model = std::string(4 << 20, 'm');
  std::string line = metrics::FormatAccessRecord(r);
  CHECK(line.size() < 1024);
  auto j = nlohmann::json::parse(line);
  CHECK(j["model"].get<std::string>().rfind(std::string(256, 'm'), 0) == 0);
  CHECK(j["model"].get<std::string>().find("...[cut 4194048 bytes]") != std::string::npos);
}
