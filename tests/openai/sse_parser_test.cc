#include "openai/sse_parser.h"

#include <catch2/catch.hpp>

using signalbox::SseEvent;
using signalbox::SseParser;

namespace {

struct Got {
  std::string event, data;
  bool operator==(const Got& o) const { return event == o.event && data == o.data; }
};

std::vector<Got> ParseInPieces(const std::string& stream, std::vector<size_t> cuts) {
  std::vector<Got> got;
  SseParser p([&](const SseEvent& e) {
    got.push_back({std::string(e.event), std::string(e.data)});
    return true;
  });
  size_t pos = 0;
  for (size_t c : cuts) {
    REQUIRE(p.Feed(std::string_view(stream).substr(pos, c - pos)));
    pos = c;
  }
  REQUIRE(p.Feed(std::string_view(stream).substr(pos)));
  return got;
}

}  // namespace

TEST_CASE("SSE events split at every byte offset parse exactly once", "[openai][sse]") {
  for (std::string eol : {"\n", "\r\n", "\r"}) {
    std::string s = ": ping" + eol + "data: {\"a\":1}" + eol + eol + "event: delta" + eol +
                    "id: 7" + eol + "data: line1" + eol + "data:line2" + eol + eol + "retry: 10" +
                    eol + "data: [DONE]" + eol + eol;
    std::vector<Got> want = {{"", "{\"a\":1}"}, {"delta", "line1\nline2"}, {"", "[DONE]"}};
    INFO("eol size " << eol.size());
    CHECK(ParseInPieces(s, {}) == want);
    for (size_t cut = 1; cut < s.size(); ++cut) {
      INFO("cut at " << cut);
      CHECK(ParseInPieces(s, {cut}) == want);
    }
    // Byte by byte.
    std::vector<size_t> all;
    for (size_t i = 1; i < s.size(); ++i) all.push_back(i);
    CHECK(ParseInPieces(s, all) == want);
  }
}

TEST_CASE("SSE: [DONE] glued to the previous event in one read", "[openai][sse]") {
  auto got = ParseInPieces("data: {\"x\":2}\n\ndata: [DONE]\n\n", {});
  REQUIRE(got.size() == 2);
  CHECK(got[1].data == "[DONE]");
}

TEST_CASE("SSE: unfinished event is not dispatched, comments only produce nothing",
          "[openai][sse]") {
  std::vector<std::string> got;
  SseParser p([&](const SseEvent& e) {
    got.emplace_back(e.data);
    return true;
  });
  REQUIRE(p.Feed(": keepalive\n\n: again\n\ndata: partial"));
  CHECK(got.empty());
  CHECK(p.HasPartial());
  REQUIRE(p.Feed("\n\n"));
  CHECK(got == std::vector<std::string>{"partial"});
  CHECK_FALSE(p.HasPartial());
}

TEST_CASE("SSE: an oversized event is an error, not unbounded memory", "[openai][sse]") {
  SseParser p([](const SseEvent&) { return true; }, 1024);
  std::string big = "data: " + std::string(2000, 'x');
  CHECK_FALSE(p.Feed(big));
  CHECK(p.error());
}

TEST_CASE("SSE: the callback can stop parsing", "[openai][sse]") {
  int n = 0;
  SseParser p([&](const SseEvent&) { return ++n < 2; });
  CHECK_FALSE(p.Feed("data: 1\n\ndata: 2\n\ndata: 3\n\n"));
  CHECK(n == 2);
}
