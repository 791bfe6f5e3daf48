// Process: a child process for integration tests (the gateway, signalbox-mock), with
// its stdout and stderr captured line by line.
//
// Thread-safe: reader threads append lines while a test waits for one. The child gets
// /dev/null as stdin, an empty signal mask and default signal dispositions, no fd of
// the test process but its pipes, and PR_SET_PDEATHSIG=SIGKILL, so it dies with the
// test — note that Linux sends that signal when the *thread* that started the child
// exits, so start children from the test's own thread. The destructor kills (SIGKILL)
// and reaps a child that is still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace signalbox::testing {

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is the program (a path, or looked up in PATH)
  // Set in the child's environment on top of the test's (same name: replaced).
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;  // empty: the test's
};

enum class OutputStream { kStdout, kStderr };

class Process {
 public:
  // Starts the child. Fails when the program cannot be executed.
  static StatusOr<std::unique_ptr<Process>> Start(const ProcessOptions& options);

  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t Pid() const { return pid_; }

  // Returns the first line of `stream` (already captured or arriving later) for which
  // `predicate` holds; nullopt when `timeout` passes or the stream ends first.
  std::optional<std::string> WaitForLine(const std::function<bool(const std::string&)>& predicate,
                                         std::chrono::milliseconds timeout,
                                         OutputStream stream = OutputStream::kStdout);
  // Every complete line captured so far.
  std::vector<std::string> Lines(OutputStream stream) const;
  // Both streams, for failure messages.
  std::string Output() const;

  // Sends `sig`; false when the child has already been reaped.
  bool Signal(int sig);
  void Kill() { Signal(SIGKILL); }

  // Reaps the child: its exit code, or 128 + the signal that ended it. Returns once its
  // output has been read to the end (at most 5 s after the exit), so Lines() is complete.
  int Wait();
  // Same, giving up after `timeout` (nullopt: still running).
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);
  bool Running();

 private:
  Process() = default;
  void ReadLoop(int fd, OutputStream stream);
  // Reaps the child if it has exited (never blocks); its exit code once reaped.
  std::optional<int> TryReap();

  pid_t pid_ = -1;
  int pidfd_ = -1;                        // readable when the child exits; -1 if unsupported
  int wake_read_ = -1, wake_write_ = -1;  // wakes reader threads on destruction

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_[2];  // GUARDED_BY(mu_)
  bool closed_[2] = {false, false};    // GUARDED_BY(mu_): the stream reached EOF
  std::optional<int> exit_code_;       // GUARDED_BY(mu_)
  std::mutex reap_mu_;                 // serialises waitpid()
  std::thread readers_[2];
};

}  // namespace signalbox::testing
