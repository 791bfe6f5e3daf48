#include "server/lingerer.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace signalbox {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

Lingerer::Lingerer(const LingerLimits& limits) : limits_(limits) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ >= 0 && wake_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    thread_ = std::thread([this] { Loop(); });
  }
}

Lingerer::~Lingerer() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lk(mu_);
  while (!sockets_.empty()) Drop(sockets_.begin()->first);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Lingerer::Close(int fd) {
  ::shutdown(fd, SHUT_WR);
  std::lock_guard<std::mutex> lk(mu_);
  if (stop_ || !thread_.joinable() || limits_.time.count() <= 0 ||
      sockets_.size() >= limits_.max_sockets) {
    ++closed_at_once_;
    ::close(fd);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ++closed_at_once_;
    ::close(fd);
    return;
  }
  auto now = Clock::now();
  Entry e;
  e.hard_deadline = now + limits_.time;
  e.deadline = std::min(e.hard_deadline, now + limits_.idle);
  sockets_[fd] = e;
  ++total_;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));  // the loop recomputes its next deadline
}

void Lingerer::Drop(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  sockets_.erase(fd);
  ::close(fd);
}

// One epoll set for every lingering socket. Each wake-up discards what arrived (a socket
// at EOF, in error or over max_bytes is closed), then closes the sockets whose deadline
// passed. The wait lasts until the earliest deadline (at most a second).
void Lingerer::Loop() {
  static char scratch[64 * 1024];  // only this thread reads into it; contents unused
  epoll_event events[64];
  for (;;) {
    int timeout_ms = 1000;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_) return;
      auto now = Clock::now();
      for (const auto& [fd, e] : sockets_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(e.deadline - now).count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left + 1, 0, timeout_ms));
      }
    }
    int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) return;
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof(v));
        continue;
      }
      auto it = sockets_.find(fd);
      if (it == sockets_.end()) continue;
      bool done = false;
      for (;;) {
        ssize_t r = ::recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (r > 0) {
          it->second.discarded += static_cast<uint64_t>(r);
          it->second.deadline = std::min(it->second.hard_deadline, now + limits_.idle);
          if (it->second.discarded >= limits_.max_bytes) {
            done = true;
            break;
          }
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        done = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      if (done) Drop(fd);
    }
    for (auto it = sockets_.begin(); it != sockets_.end();) {
      int fd = it->first;
      bool expired = it->second.deadline <= now;
      ++it;
      if (expired) Drop(fd);
    }
  }
}

size_t Lingerer::lingering() const {
  std::lock_guard<std::mutex> lk(mu_);
  return sockets_.size();
}

uint64_t Lingerer::total() const {
  std::lock_guard<std::mutex> lk(mu_);
  return total_;
}

uint64_t Lingerer::closed_at_once() const {
  std::lock_guard<std::mutex> lk(mu_);
  return closed_at_once_;
}

}  // namespace signalbox
