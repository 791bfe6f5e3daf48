#include "integration/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace signalbox::testing {
namespace {

// Everything execve() needs, built before fork(): the child may only call
// async-signal-safe functions, so it must not allocate.
struct ExecArgs {
  std::vector<std::string> storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecArgs BuildExecArgs(const ProcessOptions& options) {
  ExecArgs a;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : options.env) replaced = replaced || k == name;
    if (!replaced) env.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env) env.push_back(k + "=" + v);
  a.storage = options.argv;
  const size_t argc = a.storage.size();
  a.storage.insert(a.storage.end(), env.begin(), env.end());
  for (size_t i = 0; i < a.storage.size(); ++i) {
    (i < argc ? a.argv : a.envp).push_back(a.storage[i].data());
  }
  a.argv.push_back(nullptr);
  a.envp.push_back(nullptr);
  return a;
}

// In the forked child: set up and exec, or report errno on err_fd and exit 127.
[[noreturn]] void ExecChild(const ExecArgs& a, const std::string& working_dir, int out_fd,
                            int err_fd_out, int report_fd, pid_t parent) {
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  dup2(out_fd, 1);
  dup2(err_fd_out, 2);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the test died before prctl took effect
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
  if (!working_dir.empty() && chdir(working_dir.c_str()) != 0) {
    int e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
  }
  // No fd of the test (listening sockets, other pipes) may leak into the child; the
  // report pipe is close-on-exec, so dup it above 2 and keep it.
  int report = fcntl(report_fd, F_DUPFD_CLOEXEC, 3);
  syscall(SYS_close_range, 3, report - 1, 0);
  syscall(SYS_close_range, report + 1, ~0U, 0);
  execvpe(a.argv[0], a.argv.data(), a.envp.data());
  int e = errno;
  (void)!write(report, &e, sizeof(e));
  _exit(127);
}

}  // namespace

StatusOr<std::unique_ptr<Process>> Process::Start(const ProcessOptions& options) {
  if (options.argv.empty()) return InvalidArgument("Process::Start: empty argv");
  ExecArgs args = BuildExecArgs(options);
  int out[2], err[2], report[2], wake[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0 ||
      pipe2(wake, O_CLOEXEC) != 0) {
    return Internal(std::string("pipe2: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) ExecChild(args, options.working_dir, out[1], err[1], report[1], parent);

  for (int fd : {out[1], err[1], report[1]}) close(fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(report[0]);

  std::unique_ptr<Process> p(new Process());
  p->pid_ = pid;
  p->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  p->wake_read_ = wake[0];
  p->wake_write_ = wake[1];
  p->readers_[0] =
      std::thread([q = p.get(), fd = out[0]] { q->ReadLoop(fd, OutputStream::kStdout); });
  p->readers_[1] =
      std::thread([q = p.get(), fd = err[0]] { q->ReadLoop(fd, OutputStream::kStderr); });
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    p->Wait();
    return Internal("cannot execute " + options.argv[0] + ": " + std::strerror(child_errno));
  }
  return p;
}

Process::~Process() {
  if (Running()) Kill();
  Wait();
  // A grandchild may still hold the pipes open: wake the readers rather than wait.
  (void)!write(wake_write_, "x", 1);
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
  for (int fd : {pidfd_, wake_read_, wake_write_}) {
    if (fd >= 0) close(fd);
  }
}

void Process::ReadLoop(int fd, OutputStream stream) {
  const int index = static_cast<int>(stream);
  std::string partial;
  char buf[4096];
  while (true) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    if (fds[0].revents == 0) continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::vector<std::string> complete;
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      complete.push_back(partial.substr(start, nl - start));
    }
    partial.erase(0, start);
    if (!complete.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& line : complete) lines_[index].push_back(std::move(line));
      cv_.notify_all();
    }
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_[index].push_back(std::move(partial));
  closed_[index] = true;
  cv_.notify_all();
}

std::optional<std::string> Process::WaitForLine(
    const std::function<bool(const std::string&)>& predicate, std::chrono::milliseconds timeout,
    OutputStream stream) {
  const int index = static_cast<int>(stream);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  while (true) {
    for (; checked < lines_[index].size(); ++checked) {
      if (predicate(lines_[index][checked])) return lines_[index][checked];
    }
    if (closed_[index]) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        checked == lines_[index].size()) {
      return std::nullopt;
    }
  }
}

std::vector<std::string> Process::Lines(OutputStream stream) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_[static_cast<int>(stream)];
}

std::string Process::Output() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (int i = 0; i < 2; ++i) {
    for (const auto& line : lines_[i]) out += (i == 0 ? "[stdout] " : "[stderr] ") + line + "\n";
  }
  return out;
}

bool Process::Signal(int sig) {
  std::lock_guard<std::mutex> reap_lock(reap_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_code_) return false;  // reaped: the pid may belong to someone else now
  }
  return kill(pid_, sig) == 0;
}

std::optional<int> Process::TryReap() {
  std::lock_guard<std::mutex> reap_lock(reap_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_code_) return exit_code_;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return std::nullopt;
  int code = r < 0                 ? -1
             : WIFEXITED(status)   ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                   : -1;
  std::lock_guard<std::mutex> lock(mu_);
  exit_code_ = code;
  return code;
}

int Process::Wait() {
  while (true) {
    if (auto code = TryReap()) {
      // The child is gone, but its last output may still be in the pipes: let the readers
      // drain them (bounded: a grandchild may hold a pipe open).
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_[0] && closed_[1]; });
      return *code;
    }
    // Block until the child exits without reaping it (WNOWAIT), so Signal() from another
    // thread is never stuck behind this wait; TryReap() then reaps under the lock.
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT);
  }
}

std::optional<int> Process::WaitFor(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto code = TryReap()) return code;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (pidfd_ >= 0) {
      // Readable once the child has exited: no polling loop needed.
      pollfd pfd{pidfd_, POLLIN, 0};
      poll(&pfd, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(5)));
    }
  }
}

bool Process::Running() { return !TryReap().has_value(); }

}  // namespace signalbox::testing
