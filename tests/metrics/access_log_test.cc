#include "metrics/access_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"

namespace signalbox::metrics {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::system_clock;

using signalbox::testing::TempDir;

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

AccessRecord Classified() {
  AccessRecord r;
  r.ts = system_clock::time_point(milliseconds(1'795'673'564'123));  // 2026-11-26T06:12:44.123Z
  r.request_id = "req-1";
  r.key = "team-a";
  r.model = "auto";
  r.backend = "small";
  r.rule = "default";
  r.tier = "simple";
  r.score = 0.123456789012345;
  r.status = 200;
  r.duration_ms = 812.5004;
  r.input_tokens = 31;
  r.output_tokens = 120;
  r.cost_usd = 3.91e-5;
  r.attempts = 1;
  return r;
}

TEST_CASE("Access record has exactly the SPEC fields, in order, then deployment", "[metrics]") {
  CHECK(FormatAccessRecord(Classified()) ==
        R"({"ts":"2026-11-26T06:12:44.123Z","request_id":"req-1","key":"team-a",)"
        R"("model":"auto","backend":"small","rule":"default","tier":"simple",)"
        R"("score":0.123456789012345,"status":200,"duration_ms":812.5,"ttft_ms":null,)"
        R"("input_tokens":31,"output_tokens":120,"cost_usd":3.91e-05,"attempts":1,)"
        R"("error":null,"deployment":null})");
}

TEST_CASE("Fields that do not apply are null", "[metrics]") {
  AccessRecord r;  // e.g. a body that could not be parsed: nothing routed
  r.request_id = "req-2";
  r.status = 400;
  r.duration_ms = 0.25;
  r.error = "invalid_request_error";
  auto j = nlohmann::json::parse(FormatAccessRecord(r));
  const std::vector<std::string> kFields = {
      "ts",      "request_id",   "key",           "model",    "backend",
      "rule",    "tier",         "score",         "status",   "duration_ms",
      "ttft_ms", "input_tokens", "output_tokens", "cost_usd", "attempts",
      "error",   "deployment"};
  CHECK(j.size() == kFields.size());
  for (const std::string& f : kFields) CHECK(j.contains(f));
  for (const char* f : {"key", "model", "backend", "rule", "tier", "score", "ttft_ms",
                        "input_tokens", "output_tokens", "cost_usd", "deployment"}) {
    INFO(f);
    CHECK(j[f].is_null());
  }
  CHECK(j["error"] == "invalid_request_error");
  CHECK(j["status"] == 400);
  CHECK(j["attempts"] == 0);
  // The time defaults to now: a well-formed RFC 3339 UTC stamp with milliseconds.
  std::string ts = j["ts"];
  REQUIRE(ts.size() == 24);
  CHECK(ts[10] == 'T');
  CHECK(ts[19] == '.');
  CHECK(ts.back() == 'Z');

  AccessRecord stream = Classified();  // an explicit model, streamed
  stream.tier.reset();
  stream.score.reset();
  stream.ttft_ms = 95.1234567;
  j = nlohmann::json::parse(FormatAccessRecord(stream));
  CHECK(j["tier"].is_null());
  CHECK(j["score"].is_null());
  CHECK(j["ttft_ms"] == 95.123);
}

TEST_CASE("Strings are escaped so every line is one valid JSON object", "[metrics]") {
  AccessRecord r = Classified();
  r.request_id = "a\"b\\c\nd\xFF";
  r.error = "line1\nline2";
  std::string line = FormatAccessRecord(r);
  CHECK(line.find('\n') == std::string::npos);
  auto j = nlohmann::json::parse(line);
  CHECK(j["request_id"] == "a\"b\\c\nd\xEF\xBF\xBD");
}

TEST_CASE("FormatRfc3339Millis", "[metrics]") {
  CHECK(FormatRfc3339Millis(system_clock::time_point(milliseconds(0))) ==
        "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(system_clock::time_point(milliseconds(1'709'251'199'999))) ==
        "2024-02-29T23:59:59.999Z");
  CHECK(FormatRfc3339Millis(system_clock::time_point(milliseconds(-1))) ==
        "1969-12-31T23:59:59.999Z");
}

TEST_CASE("Access log appends to a file created 0640", "[metrics]") {
  TempDir dir;
  std::string path = dir.File("access.log");
  auto log = AccessLog::Open(path);
  REQUIRE(log.ok());
  (*log)->Write(Classified());
  (*log)->Write(Classified());
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  mode_t mask = umask(0);
  umask(mask);
  CHECK((st.st_mode & 0777) == (0640 & ~mask));
  auto lines = ReadLines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == FormatAccessRecord(Classified()));

  // Append, not truncate, when the file exists.
  log->reset();
  auto again = AccessLog::Open(path);
  REQUIRE(again.ok());
  (*again)->Write(Classified());
  CHECK(ReadLines(path).size() == 3);
}

TEST_CASE("Access log fails to open an impossible path", "[metrics]") {
  auto log = AccessLog::Open("/nonexistent-dir-for-signalbox/access.log");
  CHECK_FALSE(log.ok());
}

TEST_CASE("Access log with an empty path writes to stdout", "[metrics]") {
  TempDir dir;
  std::string path = dir.File("stdout");
  int capture = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(capture >= 0);
  std::cout.flush();
  fflush(stdout);
  int saved = dup(1);
  REQUIRE(dup2(capture, 1) == 1);
  {
    auto log = AccessLog::Open("");
    if (log.ok()) {
      (*log)->Write(Classified());
      CHECK((*log)->Reopen().ok());  // no-op
    }
  }
  dup2(saved, 1);
  close(saved);
  close(capture);
  auto lines = ReadLines(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == FormatAccessRecord(Classified()));
}

TEST_CASE("Reopen after rename sends new lines to the new file", "[metrics]") {
  TempDir dir;
  std::string path = dir.File("access.log");
  auto log = AccessLog::Open(path);
  REQUIRE(log.ok());
  AccessRecord r = Classified();
  r.request_id = "before";
  (*log)->Write(r);
  fs::rename(path, path + ".1");
  r.request_id = "between";  // after the rename, before Reopen: still the old file
  (*log)->Write(r);
  REQUIRE((*log)->Reopen().ok());
  r.request_id = "after";
  (*log)->Write(r);

  auto old_lines = ReadLines(path + ".1");
  auto new_lines = ReadLines(path);
  REQUIRE(old_lines.size() == 2);
  REQUIRE(new_lines.size() == 1);
  CHECK(nlohmann::json::parse(old_lines[1])["request_id"] == "between");
  CHECK(nlohmann::json::parse(new_lines[0])["request_id"] == "after");
}

TEST_CASE("A failed Reopen keeps writing to the old file", "[metrics]") {
  TempDir dir;
  fs::create_directory(dir.File("logs"));
  std::string path = dir.File("logs/access.log");
  auto log = AccessLog::Open(path);
  REQUIRE(log.ok());
  fs::rename(dir.File("logs"), dir.File("moved"));  // the path's directory is gone
  CHECK_FALSE((*log)->Reopen().ok());
  (*log)->Write(Classified());
  CHECK(ReadLines(dir.File("moved/access.log")).size() == 1);
}

TEST_CASE("No line is lost or split when threads write during rotations", "[metrics]") {
  TempDir dir;
  std::string path = dir.File("access.log");
  auto opened = AccessLog::Open(path);
  REQUIRE(opened.ok());
  AccessLog& log = **opened;
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  constexpr int kRotations = 4;
  std::atomic<int> written{0};

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      AccessRecord r = Classified();
      r.error = std::string(200, 'x');  // longer lines make a torn write likelier to show
      for (int i = 0; i < kLines; ++i) {
        r.request_id = std::to_string(t) + "-" + std::to_string(i);
        log.Write(r);
        written.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Rotate at evenly spaced points of the writers' progress (polled, not slept).
  std::vector<std::string> files;
  for (int k = 1; k <= kRotations; ++k) {
    while (written.load() < k * kThreads * kLines / (kRotations + 1)) std::this_thread::yield();
    std::string rotated = path + "." + std::to_string(k);
    fs::rename(path, rotated);
    files.push_back(rotated);
    REQUIRE(log.Reopen().ok());
  }
  for (auto& w : writers) w.join();
  AccessRecord last = Classified();
  last.request_id = "last";
  log.Write(last);
  files.push_back(path);

  std::set<std::string> ids;
  size_t total = 0;
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) {
      ++total;
      nlohmann::json j;
      REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
      ids.insert(j["request_id"].get<std::string>());
    }
  }
  CHECK(total == kThreads * kLines + 1);
  CHECK(ids.size() == total);
  auto newest = ReadLines(path);
  REQUIRE_FALSE(newest.empty());
  CHECK(nlohmann::json::parse(newest.back())["request_id"] == "last");
}

}  // namespace
}  // namespace signalbox::metrics
