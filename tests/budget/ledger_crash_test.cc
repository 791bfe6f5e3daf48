// kill -9 durability of the ledger (reliability catalogue §4 case 45): a child process
// appends through the real group-commit path from several threads and reports every
// acknowledged append over a pipe; the parent SIGKILLs it at a random point, reopens the
// file and checks that every acknowledged record is there, exactly once.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "budget/budget_test_util.h"
#include "budget/ledger.h"
#include "budget/money.h"
#include "budget/spend_tracker.h"
#include "common/clock.h"

namespace signalbox::budget {
namespace {

using testing::Record;
using testing::TempDir;
using testing::UtcMs;

constexpr int kChildThreads = 4;
constexpr double kCost = 0.001;
const int64_t kTs = UtcMs(2026, 11, 26, 12);

struct Ack {
  int32_t thread;
  int32_t seq;
};

std::string RequestId(int round, int thread, int seq) {
  return fmt::format("r{}-t{}-{}", round, thread, seq);
}

// The child: appends forever until killed. Each thread appends its records in sequence
// and acknowledges each one after Append() returned OK; every third call also replays
// the previous record, which must never count twice. Never returns.
[[noreturn]] void RunChild(const std::string& path, int round, int ack_fd) {
  auto ledger = Ledger::Open(path);
  if (!ledger.ok()) _exit(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < kChildThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int seq = 0;; ++seq) {
        std::vector<AttemptRecord> batch = {
            Record(RequestId(round, t, seq), 1, "team-a", "small", kCost, kTs)};
        if (seq % 3 == 2) {
          batch.push_back(Record(RequestId(round, t, seq - 1), 1, "team-a", "small", kCost, kTs));
        }
        if (!(*ledger)->Append(batch).ok()) _exit(4);
        Ack ack{t, seq};
        if (write(ack_fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(5);
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

// Forks the child, lets it acknowledge `kill_after` appends, SIGKILLs it and returns all
// acknowledgements that reached the pipe (including those written just before the kill).
std::vector<Ack> RunAndKill(const std::string& path, int round, int kill_after) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    RunChild(path, round, fds[1]);
  }
  close(fds[1]);
  std::vector<Ack> acks;
  bool killed = false;
  Ack ack;
  while (read(fds[0], &ack, sizeof ack) == static_cast<ssize_t>(sizeof ack)) {
    acks.push_back(ack);
    if (!killed && static_cast<int>(acks.size()) >= kill_after) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  if (!killed) kill(pid, SIGKILL);  // the child died early: still reap it
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("child status " << status);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  return acks;
}

TEST_CASE("ledger loses no acknowledged append under kill -9", "[budget]") {
  TempDir dir;
  const std::string path = dir.File("state/ledger.db");
  std::random_device rd;
  const uint32_t seed = rd();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_point(1, 600);

  int64_t rows_before = 0;
  std::vector<std::pair<int, Ack>> all_acks;  // (round, ack) of every round so far
  // Several rounds on the same file: each restart recovers the WAL of a killed writer.
  for (int round = 0; round < 3; ++round) {
    std::vector<Ack> acks = RunAndKill(path, round, kill_point(rng));
    REQUIRE(!acks.empty());
    const int64_t acked = static_cast<int64_t>(acks.size());
    for (const Ack& a : acks) all_acks.emplace_back(round, a);

    auto ledger = Ledger::Open(path);
    INFO(ledger.status().ToString());
    REQUIRE(ledger.ok());
    int missing = 0;
    for (const auto& [r, a] : all_acks) {
      auto found = (*ledger)->Find(RequestId(r, a.thread, a.seq), 1);
      REQUIRE(found.ok());
      if (!found->has_value()) ++missing;
    }
    CHECK(missing == 0);
    // Nothing twice: each thread appends in sequence, so the file holds its acknowledged
    // records plus at most the one it was writing when killed.
    auto count = (*ledger)->CountRecords();
    REQUIRE(count.ok());
    CHECK(*count >= rows_before + acked);
    CHECK(*count <= rows_before + acked + kChildThreads);
    rows_before = *count;

    // A tracker rebuilt from the file counts each surviving record once.
    FakeClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(kTs))};
    auto tracker = SpendTracker::Create(ledger->get(), clock);
    REQUIRE(tracker.ok());
    CHECK((*tracker)->Totals().keys.at("team-a").day_nano_usd == *count * ToNanoUsd(kCost));
  }
}

}  // namespace
}  // namespace signalbox::budget
