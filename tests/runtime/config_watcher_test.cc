#include "runtime/config_watcher.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "testing/poll.h"
#include "testing/temp_dir.h"

namespace signalbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using signalbox::testing::TempDir;

// In-place truncate-and-write, the way `echo x > file` or a naive program saves.
void WriteInPlace(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  REQUIRE(close(fd) == 0);
}

// An editor's save: write a temporary file beside the target, then rename() it over.
void WriteByRename(const std::string& path, const std::string& content) {
  WriteInPlace(path + ".swp", content);
  REQUIRE(rename((path + ".swp").c_str(), path.c_str()) == 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Generous: nothing here should take more than a few seconds even under TSan on a loaded
// machine.
bool WaitFor(const std::function<bool()>& pred) {
  return signalbox::testing::Eventually(pred, std::chrono::seconds(30), milliseconds(2));
}

ConfigWatcherOptions EventsOnly(milliseconds debounce = milliseconds(50)) {
  ConfigWatcherOptions opts;
  opts.debounce = debounce;
  opts.poll = milliseconds(0);  // only inotify can trigger a check
  return opts;
}

// A watcher whose callback, like the Reloader, reads the file through the path; the test
// sees what each report would have loaded.
class Harness {
 public:
  explicit Harness(const std::string& path, ConfigWatcherOptions opts = EventsOnly())
      : path_(path),
        watcher_(
            path, [this] { OnChange(); }, opts) {}

  ConfigWatcher& watcher() { return watcher_; }
  // True once a report has loaded exactly `content` and the watcher's hash agrees.
  bool Reported(const std::string& content) {
    std::lock_guard<std::mutex> lk(mu_);
    return !loaded_.empty() && loaded_.back() == content &&
           watcher_.reported_hash() == Sha256Hex(content);
  }
  // Waits until the watcher has finished a check that started after this call.
  void WaitForCheck(uint64_t before) {
    REQUIRE(WaitFor([&] { return watcher_.checks_completed() > before; }));
  }

 private:
  void OnChange() {
    std::string content = ReadFile(path_);
    std::lock_guard<std::mutex> lk(mu_);
    loaded_.push_back(content);
  }

  const std::string path_;
  std::mutex mu_;
  std::vector<std::string> loaded_;  // guarded by mu_
  ConfigWatcher watcher_;            // last: joined before the members it calls into go
};

TEST_CASE("ConfigWatcher reports an editor's write-temp-then-rename save once", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "version: 1\n");
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());
  CHECK(h.watcher().reported_hash() == Sha256Hex("version: 1\n"));

  WriteByRename(path, "version: 2\n");
  REQUIRE(WaitFor([&] { return h.Reported("version: 2\n"); }));
  CHECK(h.watcher().changes_reported() == 1);

  WriteByRename(path, "version: 3\n");
  REQUIRE(WaitFor([&] { return h.Reported("version: 3\n"); }));
  CHECK(h.watcher().changes_reported() == 2);
}

TEST_CASE("ConfigWatcher picks up the final state of an in-place rewrite seen half-written",
          "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "old: true\n");
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());

  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const std::string first = "server:\n  listen: ";
  const std::string rest = "0.0.0.0:8080\n";
  REQUIRE(write(fd, first.data(), first.size()) == static_cast<ssize_t>(first.size()));
  // The writer stalls: the watcher reports the half-written file (the reload rejects it).
  REQUIRE(WaitFor([&] { return h.Reported(first); }));
  REQUIRE(write(fd, rest.data(), rest.size()) == static_cast<ssize_t>(rest.size()));
  REQUIRE(close(fd) == 0);
  REQUIRE(WaitFor([&] { return h.Reported(first + rest); }));
}

TEST_CASE("ConfigWatcher survives the file being deleted and recreated", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "a: 1\n");
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());

  for (const std::string content : {"a: 2\n", "a: 3\n"}) {
    uint64_t reports = h.watcher().changes_reported();
    uint64_t checks = h.watcher().checks_completed();
    REQUIRE(unlink(path.c_str()) == 0);
    h.WaitForCheck(checks);
    CHECK(h.watcher().changes_reported() == reports);  // a missing file is not a change
    WriteInPlace(path, content);
    REQUIRE(WaitFor([&] { return h.Reported(content); }));
  }
}

// The kubelet's AtomicWriter layout: config.yaml -> ..data/config.yaml, ..data -> ..<ts>/.
void KubeletWrite(const TempDir& dir, const std::string& ts, const std::string& content) {
  fs::create_directory(dir.File(ts));
  WriteInPlace(dir.File(ts + "/config.yaml"), content);
  fs::create_directory_symlink(ts, dir.File("..data_tmp"));
  REQUIRE(rename(dir.File("..data_tmp").c_str(), dir.File("..data").c_str()) == 0);
}

TEST_CASE("ConfigWatcher follows a Kubernetes ConfigMap ..data symlink swap", "[runtime]") {
  TempDir dir;
  KubeletWrite(dir, "..2024_06_12_10_14_35.0001", "rev: 1\n");
  fs::create_symlink("..data/config.yaml", dir.File("config.yaml"));
  const std::string path = dir.File("config.yaml");
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());

  std::string old_ts = "..2024_06_12_10_14_35.0001";
  for (int rev = 2; rev <= 3; ++rev) {
    std::string ts = "..2024_06_12_10_15_0" + std::to_string(rev) + ".0001";
    std::string content = "rev: " + std::to_string(rev) + "\n";
    KubeletWrite(dir, ts, content);
    fs::remove_all(dir.File(old_ts));
    old_ts = ts;
    REQUIRE(WaitFor([&] { return h.Reported(content); }));
    // Only the swap changes what the path reads, so each update is exactly one report.
    CHECK(h.watcher().changes_reported() == static_cast<uint64_t>(rev - 1));
  }
}

TEST_CASE("ConfigWatcher retries a read that fails right after a ..data swap", "[runtime]") {
  // kubernetes#93686: the symlinks can be swapped before the target file exists. The new
  // file then appears in a directory the watcher cannot resolve (so does not watch) yet;
  // with the poll off, only the read retry can find it.
  TempDir dir;
  KubeletWrite(dir, "..2024_06_12_10_14_35.0001", "rev: 1\n");
  fs::create_symlink("..data/config.yaml", dir.File("config.yaml"));
  const std::string path = dir.File("config.yaml");
  Harness h(path, EventsOnly(milliseconds(200)));
  REQUIRE(h.watcher().Start().ok());

  const std::string ts = "..2024_06_12_10_16_00.0001";
  uint64_t checks = h.watcher().checks_completed();
  fs::create_directory(dir.File(ts));
  h.WaitForCheck(checks);
  checks = h.watcher().checks_completed();
  fs::create_directory_symlink(ts, dir.File("..data_tmp"));
  REQUIRE(rename(dir.File("..data_tmp").c_str(), dir.File("..data").c_str()) == 0);
  h.WaitForCheck(checks);  // the dangling path was looked at and not reported
  CHECK(h.watcher().changes_reported() == 0);
  WriteByRename(dir.File(ts + "/config.yaml"), "rev: 2\n");
  REQUIRE(WaitFor([&] { return h.Reported("rev: 2\n"); }));
}

TEST_CASE("ConfigWatcher coalesces 50 rapid changes and reports the last", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "n: start\n");
  // A long quiet period so a loaded machine cannot split the burst.
  Harness h(path, EventsOnly(milliseconds(1000)));
  REQUIRE(h.watcher().Start().ok());

  std::string last;
  for (int i = 0; i < 50; ++i) {
    last = "n: " + std::to_string(i) + "\n";
    WriteByRename(path, last);
  }
  REQUIRE(WaitFor([&] { return h.Reported(last); }));
  CHECK(h.watcher().changes_reported() <= 2);
}

TEST_CASE("ConfigWatcher does not report when the bytes are unchanged", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  const std::string content = "same: bytes\n";
  WriteInPlace(path, content);
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());

  std::vector<std::pair<std::string, std::function<void()>>> no_ops = {
      {"touch", [&] { REQUIRE(utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0); }},
      {"chmod", [&] { REQUIRE(chmod(path.c_str(), 0600) == 0); }},
      {"rename same bytes", [&] { WriteByRename(path, content); }},
      {"overwrite same bytes in place",
       [&] {
         int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
         REQUIRE(fd >= 0);
         REQUIRE(pwrite(fd, content.data(), content.size(), 0) ==
                 static_cast<ssize_t>(content.size()));
         REQUIRE(close(fd) == 0);
       }},
  };
  for (auto& [name, op] : no_ops) {
    INFO(name);
    uint64_t checks = h.watcher().checks_completed();
    op();
    h.WaitForCheck(checks);
    CHECK(h.watcher().changes_reported() == 0);
  }
  WriteByRename(path, "same: no longer\n");
  REQUIRE(WaitFor([&] { return h.Reported("same: no longer\n"); }));
  CHECK(h.watcher().changes_reported() == 1);
}

uint64_t MaxQueuedEvents() {
  std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
  uint64_t n = 0;
  in >> n;
  return n;
}

TEST_CASE("ConfigWatcher re-hashes after an inotify queue overflow", "[runtime]") {
  const uint64_t max_queued = MaxQueuedEvents();
  if (max_queued == 0 || max_queued > 1'000'000) {
    WARN("SKIPPED: fs.inotify.max_queued_events is " << max_queued);
    return;
  }
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "v: 1\n");
  WriteInPlace(dir.File("a"), "");
  WriteInPlace(dir.File("b"), "");

  // The first report blocks in the callback, so the watcher stops reading events and the
  // kernel's queue for it fills up.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool released = false;
  ConfigWatcher watcher(
      path,
      [&] {
        std::unique_lock<std::mutex> lk(mu);
        entered = true;
        cv.notify_all();
        cv.wait(lk, [&] { return released; });
      },
      EventsOnly());
  // Whatever fails below, the callback is released before the watcher is joined.
  struct Release {
    std::function<void()> fn;
    ~Release() { fn(); }
  } release{[&] {
    {
      std::lock_guard<std::mutex> lk(mu);
      released = true;
    }
    cv.notify_all();
  }};
  REQUIRE(watcher.Start().ok());
  WriteByRename(path, "v: 2\n");
  {
    std::unique_lock<std::mutex> lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(30), [&] { return entered; }));
  }
  // Alternate two files so the kernel cannot merge consecutive identical events.
  for (uint64_t i = 0; i < max_queued + 100; ++i) {
    REQUIRE(chmod(dir.File(i % 2 ? "a" : "b").c_str(), 0644) == 0);
  }
  WriteByRename(path, "v: 3\n");  // its events are dropped: the queue is full
  release.fn();
  REQUIRE(WaitFor([&] { return watcher.reported_hash() == Sha256Hex("v: 3\n"); }));
  CHECK(watcher.queue_overflows() >= 1);
  watcher.Stop();
  CHECK(watcher.changes_reported() == 2);
}

TEST_CASE("ConfigWatcher's poll finds changes without inotify", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "p: 1\n");
  ConfigWatcherOptions opts;
  opts.use_inotify = false;
  opts.poll = milliseconds(20);
  Harness h(path, opts);
  REQUIRE(h.watcher().Start().ok());
  WriteByRename(path, "p: 2\n");
  REQUIRE(WaitFor([&] { return h.Reported("p: 2\n"); }));
  CHECK(h.watcher().changes_reported() == 1);
}

TEST_CASE("ConfigWatcher's poll catches a change inotify cannot see", "[runtime]") {
  // config.yaml -> mid/link.yaml -> a/real.yaml: the watcher watches the config's
  // directory and the final target's, not `mid`, so retargeting mid/link.yaml makes no
  // event it receives.
  TempDir dir;
  for (const char* d : {"cfg", "mid", "a", "b"}) fs::create_directory(dir.File(d));
  WriteInPlace(dir.File("a/real.yaml"), "target: a\n");
  WriteInPlace(dir.File("b/real.yaml"), "target: b\n");
  fs::create_symlink(dir.File("a/real.yaml"), dir.File("mid/link.yaml"));
  fs::create_symlink(dir.File("mid/link.yaml"), dir.File("cfg/config.yaml"));
  ConfigWatcherOptions opts;
  opts.debounce = milliseconds(20);
  opts.poll = milliseconds(100);
  Harness h(dir.File("cfg/config.yaml"), opts);
  REQUIRE(h.watcher().Start().ok());

  fs::create_symlink(dir.File("b/real.yaml"), dir.File("mid/tmp.yaml"));
  REQUIRE(rename(dir.File("mid/tmp.yaml").c_str(), dir.File("mid/link.yaml").c_str()) == 0);
  REQUIRE(WaitFor([&] { return h.Reported("target: b\n"); }));
}

TEST_CASE("ConfigWatcher follows a symlink into another directory", "[runtime]") {
  TempDir dir;
  for (const char* d : {"etc", "srv1", "srv2"}) fs::create_directory(dir.File(d));
  WriteInPlace(dir.File("srv1/prod.yaml"), "where: srv1\n");
  WriteInPlace(dir.File("srv2/prod.yaml"), "where: srv2\n");
  const std::string path = dir.File("etc/config.yaml");
  fs::create_symlink(dir.File("srv1/prod.yaml"), path);
  Harness h(path);  // inotify only
  REQUIRE(h.watcher().Start().ok());

  // An in-place edit of the target happens in a directory other than the config's.
  WriteByRename(dir.File("srv1/prod.yaml"), "where: srv1 edited\n");
  REQUIRE(WaitFor([&] { return h.Reported("where: srv1 edited\n"); }));
  // Retargeting the link is an event in etc/; the watch then moves to srv2/.
  fs::create_symlink(dir.File("srv2/prod.yaml"), dir.File("etc/tmp"));
  REQUIRE(rename(dir.File("etc/tmp").c_str(), path.c_str()) == 0);
  REQUIRE(WaitFor([&] { return h.Reported("where: srv2\n"); }));
  WriteInPlace(dir.File("srv2/prod.yaml"), "where: srv2 edited\n");
  REQUIRE(WaitFor([&] { return h.Reported("where: srv2 edited\n"); }));
}

TEST_CASE("ConfigWatcher reports a file that appears after Start", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  Harness h(path);
  REQUIRE(h.watcher().Start().ok());
  CHECK(h.watcher().reported_hash().empty());
  WriteByRename(path, "late: true\n");
  REQUIRE(WaitFor([&] { return h.Reported("late: true\n"); }));
}

TEST_CASE("ConfigWatcher keeps running after a callback throws", "[runtime]") {
  TempDir dir;
  const std::string path = dir.File("config.yaml");
  WriteInPlace(path, "t: 0\n");
  std::atomic<int> calls{0};
  ConfigWatcher watcher(
      path,
      [&] {
        if (calls.fetch_add(1) == 0) throw std::runtime_error("reload blew up");
      },
      EventsOnly());
  REQUIRE(watcher.Start().ok());
  WriteByRename(path, "t: 1\n");
  REQUIRE(WaitFor([&] { return watcher.changes_reported() == 1; }));
  WriteByRename(path, "t: 2\n");
  REQUIRE(WaitFor([&] { return watcher.changes_reported() == 2; }));
  CHECK(calls.load() == 2);
}

TEST_CASE("ConfigWatcher::Start rejects what cannot work", "[runtime]") {
  TempDir dir;
  SECTION("a missing directory") {
    ConfigWatcher w(
        dir.File("nope/config.yaml"), [] {}, EventsOnly());
    Status s = w.Start();
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(s.message().find("nope") != std::string::npos);
  }
  SECTION("neither inotify nor polling") {
    ConfigWatcherOptions opts;
    opts.use_inotify = false;
    opts.poll = milliseconds(0);
    ConfigWatcher w(
        dir.File("config.yaml"), [] {}, opts);
    CHECK(w.Start().code() == StatusCode::kInvalidArgument);
  }
  SECTION("a second Start") {
    ConfigWatcher w(
        dir.File("config.yaml"), [] {}, EventsOnly());
    REQUIRE(w.Start().ok());
    CHECK(w.Start().code() == StatusCode::kFailedPrecondition);
    w.Stop();
    w.Stop();  // idempotent
  }
}

}  // namespace
}  // namespace signalbox
