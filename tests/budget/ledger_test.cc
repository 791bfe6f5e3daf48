#include "budget/ledger.h"

#include <errno.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "budget/budget_test_util.h"
#include "budget/money.h"
#include "budget/spool.h"

namespace signalbox::budget {
namespace {

using testing::Record;
using testing::TempDir;
using testing::UtcMs;

const int64_t kNov26 = UtcMs(2026, 11, 26, 12);

std::unique_ptr<Ledger> OpenOrDie(const std::string& path, LedgerOptions options = {}) {
  auto ledger = Ledger::Open(path, options);
  INFO(ledger.status().ToString());
  REQUIRE(ledger.ok());
  return std::move(ledger).value();
}

std::vector<bool> AppendOrDie(Ledger& ledger, const std::vector<AttemptRecord>& records) {
  auto inserted = ledger.Append(records);
  INFO(inserted.status().ToString());
  REQUIRE(inserted.ok());
  return *inserted;
}

std::string JournalMode(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  std::string mode;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return mode;
}

TEST_CASE("ledger creates its directory and file in WAL mode", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("state/nested/ledger.db");
  {
    auto ledger = OpenOrDie(path);
    CHECK(std::filesystem::exists(path));
    CHECK(*ledger->CountRecords() == 0);
  }
  CHECK(JournalMode(path) == "wal");
  CHECK(Ledger::Open("").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("ledger stores every field of an attempt and reads it back", "[budget]") {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("ledger.db"));
  AttemptRecord r = Record("req-1", 2, "team-a", "large", 0.0123456789, kNov26);
  r.input_tokens = 1234;
  r.output_tokens = 56;
  r.estimated = true;
  r.outcome = "cancelled";
  CHECK(AppendOrDie(*ledger, {r}) == std::vector<bool>{true});
  auto found = ledger->Find("req-1", 2);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK(**found == r);
  CHECK(!ledger->Find("req-1", 1)->has_value());
}

TEST_CASE("ledger append is idempotent per request and attempt", "[budget]") {
  TempDir dir;
  LedgerOptions options;  // nothing is applied behind the test's back
  options.apply_interval = std::chrono::hours(1);
  auto ledger = OpenOrDie(dir.File("ledger.db"), options);
  auto a1 = Record("req-1", 1, "team-a", "small", 0.5, kNov26);
  auto a2 = Record("req-1", 2, "team-a", "large", 0.25, kNov26);
  CHECK(AppendOrDie(*ledger, {a1, a2}) == std::vector<bool>{true, true});

  // Replaying a settle (e.g. after a crash between the write and its acknowledgement)
  // inserts nothing, even with different values, and the sums stay the same.
  auto replay = a1;
  replay.cost_usd = 99;
  CHECK(AppendOrDie(*ledger, {replay, a2}) == std::vector<bool>{false, false});
  // A duplicate inside one call counts once too.
  auto b = Record("req-2", 1, "team-a", "small", 0.125, kNov26);
  CHECK(AppendOrDie(*ledger, {b, b}) == std::vector<bool>{true, false});

  CHECK(*ledger->CountRecords() == 3);
  auto sums = ledger->SumWindows(kNov26);
  REQUIRE(sums.ok());
  CHECK(sums->keys.at("team-a").day_nano_usd == ToNanoUsd(0.875));
  CHECK(ledger->Stats().records_inserted == 3);
  CHECK(ledger->Stats().records_ignored == 3);
}

TEST_CASE("ledger rejects malformed records before writing anything", "[budget]") {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("ledger.db"));
  auto good = Record("req-1", 1, "k", "small", 0.1, kNov26);
  std::vector<AttemptRecord> bad(6, good);
  bad[0].request_id = "";
  bad[1].attempt = 0;
  bad[2].key_id = "";
  bad[3].backend = "";
  bad[4].output_tokens = -1;
  bad[5].cost_usd = std::numeric_limits<double>::quiet_NaN();
  for (const AttemptRecord& r : bad) {
    auto result = ledger->Append(std::vector<AttemptRecord>{good, r});
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(*ledger->CountRecords() == 0);
}

TEST_CASE("ledger sums spend per key and backend for the UTC day and month", "[budget]") {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("ledger.db"));
  AppendOrDie(*ledger, {
                           Record("r1", 1, "team-a", "small", 1.0, UtcMs(2026, 11, 26, 0)),
                           Record("r2", 1, "team-a", "large", 2.0, UtcMs(2026, 11, 26, 23, 59, 59)),
                           Record("r3", 1, "team-b", "small", 4.0, UtcMs(2026, 11, 25, 23)),
                           Record("r4", 1, "team-a", "small", 8.0, UtcMs(2026, 11, 1)),
                           Record("r5", 1, "team-a", "small", 16.0, UtcMs(2026, 10, 31, 23)),
                           Record("r6", 1, "team-c", "small", 32.0, UtcMs(2026, 12, 1)),
                       });
  auto sums = ledger->SumWindows(UtcMs(2026, 11, 26, 15));
  REQUIRE(sums.ok());
  CHECK(sums->day == "2026-11-26");
  CHECK(sums->month == "2026-11");
  std::map<std::string, WindowTotals> keys = {
      {"team-a", {ToNanoUsd(3.0), ToNanoUsd(11.0)}},
      {"team-b", {0, ToNanoUsd(4.0)}},
  };
  std::map<std::string, WindowTotals> backends = {
      {"large", {ToNanoUsd(2.0), ToNanoUsd(2.0)}},
      {"small", {ToNanoUsd(1.0), ToNanoUsd(13.0)}},
  };
  CHECK(sums->keys == keys);
  CHECK(sums->backends == backends);
}

TEST_CASE("ledger keeps its records across close and reopen", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  {
    auto ledger = OpenOrDie(path);
    AppendOrDie(*ledger, {Record("r1", 1, "team-a", "small", 0.3, kNov26)});
  }
  auto ledger = OpenOrDie(path);
  CHECK(*ledger->CountRecords() == 1);
  // A replay of a committed record is appended to the spool; the applier ignores it and
  // tells the duplicate listener.
  std::vector<AttemptRecord> taken_back;
  ledger->SetDuplicateListener(&taken_back,
                               [&](const AttemptRecord& r) { taken_back.push_back(r); });
  auto replay = Record("r1", 1, "team-a", "small", 0.3, kNov26);
  CHECK(AppendOrDie(*ledger, {replay}) == std::vector<bool>{true});
  REQUIRE(ledger->Flush().ok());
  CHECK(taken_back == std::vector<AttemptRecord>{replay});
  CHECK(ledger->Stats().records_ignored == 1);
  CHECK(*ledger->CountRecords() == 1);
  CHECK(ledger->SumWindows(kNov26)->keys.at("team-a").month_nano_usd == ToNanoUsd(0.3));
  ledger->ClearDuplicateListener(&taken_back);
}

TEST_CASE("ledger commits every record of concurrent callers exactly once", "[budget]") {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("ledger.db"));
  constexpr int kThreads = 16;
  constexpr int kPerThread = 100;
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  std::vector<int> reappended(kThreads, 0);
  std::atomic<int> taken_back{0};
  ledger->SetDuplicateListener(&taken_back, [&](const AttemptRecord&) { taken_back += 1; });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        // Every other call replays the previous record too: duplicates across callers
        // of one group must still count once.
        std::vector<AttemptRecord> batch = {Record(
            fmt::format("t{}-{}", t, i), 1, fmt::format("key-{}", t % 4), "small", 0.001, kNov26)};
        if (i % 2 == 1) batch.push_back(Record(fmt::format("t{}-{}", t, i - 1), 1, "x", "y", 5));
        auto result = ledger->Append(batch);
        if (!result.ok() || !(*result)[0]) failures[t] += 1;
        // The replayed record counts again only if the applier committed it already; the
        // applier then hands it to the duplicate listener.
        if (result.ok() && batch.size() == 2 && (*result)[1]) reappended[t] += 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(kThreads, 0));
  CHECK(*ledger->CountRecords() == kThreads * kPerThread);
  CHECK(taken_back == std::accumulate(reappended.begin(), reappended.end(), 0));
  ledger->ClearDuplicateListener(&taken_back);
  auto sums = ledger->SumWindows(kNov26);
  REQUIRE(sums.ok());
  int64_t total = 0;
  for (const auto& [key, t] : sums->keys) total += t.day_nano_usd;
  CHECK(total == kThreads * kPerThread * ToNanoUsd(0.001));
  LedgerStats stats = ledger->Stats();
  CHECK(stats.records_inserted == kThreads * kPerThread);
  CHECK(stats.transactions <= kThreads * kPerThread);
}

TEST_CASE("ledger checkpoints its WAL in the background", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  auto ledger = OpenOrDie(path);
  // One record per transaction: a few pages each, so the WAL passes 1000 pages.
  for (int i = 0; i < 600; ++i) {
    AppendOrDie(*ledger, {Record(fmt::format("r{}", i), 1, "team-a", "small", 0.001, kNov26)});
    REQUIRE(ledger->Flush().ok());
  }
  // The writer only signals; poll until the checkpointer thread has run (bounded wait).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ledger->Stats().checkpoints == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ledger->Stats().checkpoints > 0);
  CHECK(*ledger->CountRecords() == 600);
  ledger.reset();
  CHECK(*OpenOrDie(path)->CountRecords() == 600);
}

TEST_CASE("ledger opened read-only reads while a writer appends", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  LedgerOptions ro;
  ro.read_only = true;
  CHECK(Ledger::Open(path, ro).status().code() == StatusCode::kNotFound);
  CHECK(!std::filesystem::exists(path));  // a reader never creates the file

  LedgerOptions slow;  // the records stay in the writer's spool: the reader must read it
  slow.apply_interval = std::chrono::hours(1);
  auto writer = OpenOrDie(path, slow);
  AppendOrDie(*writer, {Record("r1", 1, "team-a", "small", 0.5, kNov26)});
  auto reader = OpenOrDie(path, ro);
  CHECK(*reader->CountRecords() == 1);
  CHECK(reader->Find("r1", 1)->has_value());
  CHECK(reader->SumWindows(kNov26)->keys.at("team-a").day_nano_usd == ToNanoUsd(0.5));
  AppendOrDie(*writer, {Record("r2", 1, "team-a", "small", 0.25, kNov26)});
  CHECK(reader->SumWindows(kNov26)->keys.at("team-a").day_nano_usd == ToNanoUsd(0.75));
  CHECK(reader->Append(std::vector<AttemptRecord>{Record("r3", 1, "k", "b", 1)}).status().code() ==
        StatusCode::kFailedPrecondition);
  writer.reset();
  // After the writer closed (and checkpointed its WAL), the reader still sees everything.
  CHECK(*reader->CountRecords() == 2);
  auto reopened = OpenOrDie(path, ro);
  CHECK(*reopened->CountRecords() == 2);
}

TEST_CASE("ledger refuses a file that is not a ledger", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE t (x INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  LedgerOptions ro;
  ro.read_only = true;
  CHECK(Ledger::Open(path, ro).status().code() == StatusCode::kFailedPrecondition);
  const std::string junk = dir.File("junk.db");
  {
    std::FILE* f = std::fopen(junk.c_str(), "w");
    REQUIRE(f != nullptr);
    for (int i = 0; i < 64; ++i) std::fputs("this is not an SQLite database file\n", f);
    std::fclose(f);
  }
  CHECK(!Ledger::Open(junk).ok());
}

TEST_CASE("ledger keeps appending to its spool while another process holds the write lock",
          "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  LedgerOptions options;
  options.busy_timeout = std::chrono::milliseconds(20);
  auto ledger = OpenOrDie(path, options);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto r = Record("r1", 1, "team-a", "small", 0.5, kNov26);
  CHECK(AppendOrDie(*ledger, {r}) == std::vector<bool>{true});
  CHECK(ledger->Flush().code() == StatusCode::kUnavailable);
  CHECK(ledger->Stats().records_unapplied == 1);
  CHECK(AppendOrDie(*ledger, {r}) == std::vector<bool>{false});  // still known: no double count
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  CHECK(ledger->Flush().ok());
  CHECK(ledger->Stats().records_unapplied == 0);
  CHECK(*ledger->CountRecords() == 1);
}

TEST_CASE("ledger reports a failed spool write and leaves nothing of it", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  int fail_with = 0;
  LedgerOptions options;
  options.spool_fault = [&] { return fail_with; };
  auto ledger = OpenOrDie(path, options);
  auto r1 = Record("r1", 1, "team-a", "small", 0.5, kNov26);
  auto r2 = Record("r2", 1, "team-a", "small", 0.25, kNov26);
  fail_with = ENOSPC;
  CHECK(ledger->Append(std::vector<AttemptRecord>{r1}).status().code() == StatusCode::kUnavailable);
  fail_with = 0;
  CHECK(AppendOrDie(*ledger, {r1, r2}) == std::vector<bool>{true, true});
  CHECK(*ledger->CountRecords() == 2);
  CHECK(ledger->SumWindows(kNov26)->keys.at("team-a").day_nano_usd == ToNanoUsd(0.75));
}

TEST_CASE("ledger commits a crashed writer's spool files at the next start", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  auto r1 = Record("r1", 1, "team-a", "small", 0.5, kNov26);
  auto r2 = Record("r2", 1, "team-b", "large", 0.25, kNov26);
  auto r3 = Record("r3", 1, "team-a", "small", 0.125, kNov26);
  {
    auto ledger = OpenOrDie(path);
    AppendOrDie(*ledger, {r1});
  }
  // What a writer killed mid-apply leaves: an old spool whose records may already be in
  // SQLite (r1), a live spool, and a torn final line from a write the kill cut short.
  std::string old_spool, spool;
  EncodeSpoolLine(r1, &old_spool);
  EncodeSpoolLine(r2, &old_spool);
  EncodeSpoolLine(r3, &spool);
  std::string torn;
  EncodeSpoolLine(Record("r4", 1, "team-a", "small", 9.0, kNov26), &torn);
  spool += torn.substr(0, torn.size() / 2);
  for (auto [file, data] : {std::pair{path + ".spool.old", old_spool}, {path + ".spool", spool}}) {
    std::FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
  LedgerOptions ro;
  ro.read_only = true;
  CHECK(*OpenOrDie(path, ro)->CountRecords() == 3);  // a reader sees them before recovery
  auto ledger = OpenOrDie(path);
  CHECK(!std::filesystem::exists(path + ".spool.old"));
  CHECK(*ledger->CountRecords() == 3);
  auto sums = ledger->SumWindows(kNov26);
  CHECK(sums->keys.at("team-a").day_nano_usd == ToNanoUsd(0.625));
  CHECK(sums->keys.at("team-b").day_nano_usd == ToNanoUsd(0.25));
  CHECK(!ledger->Find("r4", 1)->has_value());
}

TEST_CASE("ledger admits one writer at a time", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("ledger.db");
  auto first = OpenOrDie(path);
  auto second = Ledger::Open(path);
  CHECK(second.status().code() == StatusCode::kFailedPrecondition);
  CHECK(second.status().message().find("in use by another signalbox process") != std::string::npos);
  LedgerOptions ro;
  ro.read_only = true;
  CHECK(Ledger::Open(path, ro).ok());  // readers are welcome
  first.reset();
  CHECK(Ledger::Open(path).ok());
}

TEST_CASE("spool lines round-trip every field, escapes included", "[budget]") {
  AttemptRecord r =
      Record("id\\twith\ttab\nand newline@x.1", 3, "key\\r\r", "back\\end", 0.1 + 0.2, kNov26);
  r.input_tokens = 123456789012;
  r.output_tokens = 7;
  r.estimated = true;
  r.outcome = "error: upstream\t503";
  std::string data;
  EncodeSpoolLine(r, &data);
  EncodeSpoolLine(Record("plain", 1, "k", "b", 0, kNov26), &data);
  CHECK(std::count(data.begin(), data.end(), '\n') == 2);
  SpoolContent content = DecodeSpool(data + "v1\tgarbage\n" + "v1\t1\tcut-short");
  REQUIRE(content.records.size() == 2);
  CHECK(content.records[0] == r);
  CHECK(content.records[1].request_id == "plain");
  CHECK(content.bad_lines == 1);
}

}  // namespace
}  // namespace signalbox::budget
