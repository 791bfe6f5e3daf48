#include "runtime/config_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <exception>
#include <filesystem>
#include <system_error>
#include <vector>

#include "common/log.h"
#include "config/loader.h"

namespace signalbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Every event that can mean "the bytes behind the path changed" in a watched directory:
// a write (MODIFY, CLOSE_WRITE), a file or symlink appearing, vanishing or being renamed
// over (CREATE, DELETE, MOVED_*; the ConfigMap `..data` swap is a MOVED_TO), and ATTRIB
// (a chmod can make an unreadable file readable). The *_SELF events tell us the directory
// itself went away, after which the kernel drops the watch (IN_IGNORED).
constexpr uint32_t kDirMask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                              IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// A read that fails right after an event is retried this many times with a doubling
// delay: a Kubernetes update or an editor's delete-and-recreate can leave the path
// missing or dangling for a moment [kubernetes#93686].
constexpr int kMaxReadRetries = 5;
constexpr milliseconds kMinRetryDelay{50};
// A burst of events that never goes quiet is still checked this many debounce periods
// after its first event, so a busy directory cannot postpone a check forever.
constexpr int kMaxDebouncePeriods = 10;
constexpr size_t kHashPrefix = 12;

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// The hex SHA-256 of the file's bytes, read through `path` (open() follows symlinks).
// O_NONBLOCK keeps a FIFO put in the config's place from blocking the watcher in open();
// only regular files are hashed.
StatusOr<std::string> HashFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Unavailable(path + ": " + ErrnoMessage(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Unavailable(path + ": not a regular file");
  }
  std::string bytes;
  std::vector<char> buf(64 * 1024);
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n > 0) {
      bytes.append(buf.data(), static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      int err = errno;
      close(fd);
      return Unavailable(path + ": " + ErrnoMessage(err));
    }
  }
  close(fd);
  return Sha256Hex(bytes);
}

std::string Prefix(const std::string& hash) { return hash.substr(0, kHashPrefix); }

}  // namespace

ConfigWatcher::ConfigWatcher(std::string path, std::function<void()> on_change,
                             ConfigWatcherOptions opts)
    : path_(std::move(path)), on_change_(std::move(on_change)), opts_(opts) {}

ConfigWatcher::~ConfigWatcher() {
  Stop();
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

std::string ConfigWatcher::reported_hash() const {
  std::lock_guard<std::mutex> lk(mu_);
  return reported_hash_;
}

Status ConfigWatcher::Start() {
  std::lock_guard<std::mutex> lk(lifecycle_mu_);
  if (started_) return FailedPrecondition("config watcher: already started");
  if (opts_.debounce.count() < 0 || opts_.poll.count() < 0) {
    return InvalidArgument("config watcher: debounce and poll must not be negative");
  }
  if (!opts_.use_inotify && opts_.poll.count() == 0) {
    return InvalidArgument("config watcher: without inotify the poll interval must be > 0");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path_, ec);
  if (ec) return InvalidArgument("config watcher: " + path_ + ": " + ec.message());
  dir_ = absolute.parent_path().string();

  // Failed starts leave no descriptor behind, so Start() may be tried again.
  auto fail = [this](Status s) {
    if (inotify_fd_ >= 0) close(inotify_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
    inotify_fd_ = stop_fd_ = -1;
    watches_.clear();
    return s;
  };
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return fail(Internal("config watcher: eventfd: " + ErrnoMessage(errno)));
  if (opts_.use_inotify) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      return fail(Unavailable("config watcher: inotify_init1: " + ErrnoMessage(errno)));
    }
    // Fail early on a directory that cannot be watched; WatchAndHash() adds the rest.
    int wd = inotify_add_watch(inotify_fd_, dir_.c_str(), kDirMask);
    if (wd < 0) {
      return fail(Unavailable("config watcher: cannot watch " + dir_ + ": " + ErrnoMessage(errno)));
    }
    watches_.emplace(wd, dir_);
  }

  StatusOr<std::string> hash = WatchAndHash();
  {
    std::lock_guard<std::mutex> hlk(mu_);
    reported_hash_ = hash.ok() ? *hash : std::string();
  }
  if (!hash.ok()) {
    read_failing_ = true;
    Log(LogLevel::kWarn, "config file unreadable; it is reported once it can be read")
        .Field("path", path_)
        .Field("error", hash.status().message());
  }
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::exception& e) {
    return fail(Internal(std::string("config watcher: cannot start thread: ") + e.what()));
  }
  started_ = true;
  Log(LogLevel::kInfo, "watching config file")
      .Field("path", path_)
      .Field("dir", dir_)
      .Field("inotify", opts_.use_inotify)
      .Field("debounce_ms", static_cast<int64_t>(opts_.debounce.count()))
      .Field("poll_ms", static_cast<int64_t>(opts_.poll.count()));
  return Status::Ok();
}

void ConfigWatcher::Stop() {
  std::lock_guard<std::mutex> lk(lifecycle_mu_);
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  // An 8-byte write to an eventfd fails only if its counter would overflow: it cannot.
  ssize_t n = write(stop_fd_, &one, sizeof(one));
  (void)n;
  thread_.join();
}

// The loop: sleep in poll() on the stop eventfd and the inotify fd until the earliest
// deadline (the pending debounced check or the next poll tick); turn events into a
// debounced check; run the check when it is due.
void ConfigWatcher::Run() {
  next_poll_ = steady_clock::now() + opts_.poll;
  while (true) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    nfds_t nfds = inotify_fd_ >= 0 ? 2 : 1;
    int n = poll(fds, nfds, TimeoutMs(steady_clock::now()));
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, "config watcher stopped: poll failed")
          .Field("error", ErrnoMessage(errno));
      return;
    }
    if (n > 0 && fds[0].revents != 0) return;  // Stop()
    auto now = steady_clock::now();
    if (n > 0 && nfds == 2 && fds[1].revents != 0 && !DrainEvents(now)) {
      // Cannot happen short of a kernel or descriptor bug; the poll backstop carries on.
      Log(LogLevel::kError, "config watcher: inotify read failed; only polling from now on")
          .Field("path", path_);
      close(inotify_fd_);
      inotify_fd_ = -1;
      watches_.clear();
    }
    bool check_due = check_at_ && now >= *check_at_;
    bool poll_due = opts_.poll.count() > 0 && now >= next_poll_;
    // A poll tick while an event check is pending runs that check early (with its retry
    // budget) rather than a separate one.
    if (check_due || poll_due) Check(check_at_ ? pending_trigger_ : Trigger::kPoll);
  }
}

bool ConfigWatcher::DrainEvents(steady_clock::time_point now) {
  alignas(inotify_event) char buf[16 * 1024];
  while (true) {
    ssize_t len = read(inotify_fd_, buf, sizeof(buf));
    if (len < 0) return errno == EAGAIN || errno == EINTR;
    if (len == 0) return false;
    for (ssize_t off = 0; off < len;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were dropped, so any of them might have been the change: re-hash.
        queue_overflows_.fetch_add(1, std::memory_order_relaxed);
        Log(LogLevel::kWarn, "config watcher: inotify queue overflowed; re-hashing the file")
            .Field("path", path_);
      } else if (ev->mask & IN_IGNORED) {
        // The kernel dropped a watch (its directory was deleted or unmounted): forget it
        // and let the check re-add it by path. IN_IGNORED for a watch we removed
        // ourselves is no news.
        if (watches_.erase(ev->wd) == 0) continue;
      }
      // Any event in a watched directory is a hint; the hash decides.
      ScheduleCheck(now);
    }
  }
}

// Debounce: each event moves the check to `debounce` after it, but never later than
// kMaxDebouncePeriods debounce periods after the first event of the burst.
void ConfigWatcher::ScheduleCheck(steady_clock::time_point now) {
  if (!burst_start_) burst_start_ = now;
  auto latest = *burst_start_ + kMaxDebouncePeriods * opts_.debounce;
  check_at_ = std::min(now + opts_.debounce, latest);
  pending_trigger_ = Trigger::kEvent;
  retries_ = 0;
}

int ConfigWatcher::TimeoutMs(steady_clock::time_point now) const {
  std::optional<steady_clock::time_point> deadline = check_at_;
  if (opts_.poll.count() > 0 && (!deadline || next_poll_ < *deadline)) deadline = next_poll_;
  if (!deadline) return -1;
  if (*deadline <= now) return 0;
  // Round up: waking a fraction of a millisecond early would spin through poll(0).
  auto ms = std::chrono::ceil<milliseconds>(*deadline - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

void ConfigWatcher::Check(Trigger trigger) {
  const auto now = steady_clock::now();
  check_at_.reset();
  burst_start_.reset();
  next_poll_ = now + opts_.poll;
  StatusOr<std::string> hash = WatchAndHash();
  if (hash.ok()) {
    if (read_failing_) Log(LogLevel::kInfo, "config file readable again").Field("path", path_);
    read_failing_ = false;
    retries_ = 0;
    if (*hash != reported_hash()) Report(*hash);
  } else if (trigger != Trigger::kPoll && retries_ < kMaxReadRetries) {
    // Right after an event a missing or dangling path is usually a replacement in
    // progress: look again shortly instead of declaring the file gone.
    auto delay = std::max(opts_.debounce, kMinRetryDelay) * (1 << retries_);
    ++retries_;
    check_at_ = now + delay;
    pending_trigger_ = Trigger::kRetry;
    Log(LogLevel::kDebug, "config file not readable yet; retrying")
        .Field("path", path_)
        .Field("error", hash.status().message())
        .Field("retry_in_ms", static_cast<int64_t>(delay.count()));
  } else if (!read_failing_) {
    read_failing_ = true;
    Log(LogLevel::kWarn, "config file unreadable; the current config stays until it can be read")
        .Field("path", path_)
        .Field("error", hash.status().message());
  }
  checks_completed_.fetch_add(1, std::memory_order_relaxed);
}

void ConfigWatcher::Report(const std::string& hash) {
  std::string previous;
  {
    std::lock_guard<std::mutex> lk(mu_);
    previous = std::move(reported_hash_);
    reported_hash_ = hash;
  }
  Log(LogLevel::kInfo, "config file changed")
      .Field("path", path_)
      .Field("sha256", Prefix(hash))
      .Field("previous_sha256", Prefix(previous));
  try {
    if (on_change_) on_change_();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "config watcher: change callback threw").Field("error", e.what());
  } catch (...) {
    Log(LogLevel::kError, "config watcher: change callback threw a non-exception");
  }
  changes_reported_.fetch_add(1, std::memory_order_relaxed);
}

// inotify_add_watch() on an already watched directory returns the same descriptor, so
// calling this on every check is cheap; it re-adds a watch the kernel dropped and follows
// a directory replaced under the same name. A second watch covers the directory of the
// symlink's final target when it lies elsewhere (config.yaml -> /srv/cfg/prod.yaml), so
// an in-place edit there is seen too. Intermediate directories of longer symlink chains
// are left to the poll.
bool ConfigWatcher::EnsureWatches() {
  if (inotify_fd_ < 0) return false;
  std::vector<std::string> dirs = {dir_};
  std::error_code ec;
  fs::path target = fs::canonical(path_, ec);
  if (!ec && target.parent_path() != dir_) dirs.push_back(target.parent_path().string());

  std::map<int, std::string> next;
  bool dir_watched = false;
  for (size_t i = 0; i < dirs.size(); ++i) {
    int wd = inotify_add_watch(inotify_fd_, dirs[i].c_str(), kDirMask);
    if (wd >= 0) {
      next.emplace(wd, dirs[i]);
      dir_watched = dir_watched || i == 0;
    } else if (i == 0) {
      if (!watch_failing_) {
        Log(LogLevel::kWarn, "config watcher: cannot watch the config directory; polling only")
            .Field("dir", dir_)
            .Field("error", ErrnoMessage(errno));
      }
      watch_failing_ = true;
    }
  }
  if (watch_failing_ && dir_watched) {
    Log(LogLevel::kInfo, "config watcher: watching the config directory again").Field("dir", dir_);
    watch_failing_ = false;
  }
  bool added = false;
  for (const auto& [wd, dir] : next) added = added || watches_.count(wd) == 0;
  for (const auto& [wd, dir] : watches_) {
    if (next.count(wd) == 0) inotify_rm_watch(inotify_fd_, wd);
  }
  watches_ = std::move(next);
  return added;
}

// Watches are set before the read, so a write after the read makes an event. But the
// path may resolve into a directory that was not watched when the watches were set (the
// symlink's target appeared in between); then the read is repeated once that directory is
// watched, so a write there after our read cannot go unseen.
StatusOr<std::string> ConfigWatcher::WatchAndHash() {
  EnsureWatches();
  StatusOr<std::string> hash = HashFile(path_);
  if (hash.ok() && EnsureWatches()) hash = HashFile(path_);
  return hash;
}

}  // namespace signalbox
