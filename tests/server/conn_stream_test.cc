// ConnStream's head scan and the Lingerer, over socketpairs (no server, no sleeping).
#include "server/conn_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "server/lingerer.h"

namespace signalbox {
namespace {

using Clock = std::chrono::steady_clock;

struct Pair {
  int a = -1, b = -1;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// Feeds `bytes` to a ConnStream in its header phase and reads them all.
bool BareBreak(const std::string& bytes) {
  Pair p;
  REQUIRE(::write(p.b, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ConnStream s(p.a, ConnLimits{});
  s.BeginHeaderPhase(Clock::now());
  std::string got(bytes.size(), '\0');
  size_t n = 0;
  while (n < bytes.size()) {
    ssize_t r = s.read(got.data() + n, bytes.size() - n);
    REQUIRE(r > 0);
    n += static_cast<size_t>(r);
  }
  return s.bare_line_break();
}

}  // namespace

TEST_CASE("ConnStream flags a bare LF or CR in the head, not in the body", "[server]") {
  struct Case {
    const char* name;
    std::string bytes;
    bool bare;
  } cases[] = {
      {"clean", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
      {"LF in the body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\na\nb\rc", false},
      {"bare LF line end", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", true},
      {"bare LF request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", true},
      {"bare CR in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", true},
      {"bare LF blank line", "GET / HTTP/1.1\r\nHost: x\r\n\n", true},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(BareBreak(c.bytes) == c.bare);
  }
}

TEST_CASE("Lingerer discards what the peer still sends, then closes", "[server]") {
  auto wait_empty = [](const Lingerer& l) {
    auto until = Clock::now() + std::chrono::seconds(10);
    while (l.lingering() != 0 && Clock::now() < until) std::this_thread::yield();
    return l.lingering() == 0;
  };
  SECTION("the peer's EOF ends it; writes before it succeed") {
    Lingerer l(LingerLimits{});
    Pair p;
    l.Close(p.a);
    p.a = -1;
    std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 64; ++i) REQUIRE(::write(p.b, chunk.data(), chunk.size()) == 65536);
    CHECK(l.lingering() == 1);
    ::shutdown(p.b, SHUT_WR);
    CHECK(wait_empty(l));
    CHECK(l.total() == 1);
  }
  SECTION("max_bytes ends it") {
    LingerLimits lim;
    lim.max_bytes = 1000;
    Lingerer l(lim);
    Pair p;
    l.Close(p.a);
    p.a = -1;
    std::string chunk(4096, 'x');
    REQUIRE(::write(p.b, chunk.data(), chunk.size()) == 4096);
    CHECK(wait_empty(l));
  }
  SECTION("time 0 closes at once; so does a full table") {
    LingerLimits off;
    off.time = std::chrono::milliseconds(0);
    Lingerer l(off);
    Pair p;
    l.Close(p.a);
    p.a = -1;
    CHECK(l.lingering() == 0);
    CHECK(l.closed_at_once() == 1);
    LingerLimits one;
    one.max_sockets = 1;
    Lingerer l1(one);
    Pair p1, p2;
    l1.Close(p1.a);
    l1.Close(p2.a);
    p1.a = p2.a = -1;
    CHECK(l1.lingering() == 1);
    CHECK(l1.closed_at_once() == 1);
  }
}

}  // namespace signalbox
