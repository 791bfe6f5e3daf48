#include "server/conn_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace signalbox {
namespace {

using Clock = std::chrono::steady_clock;

void AddrToString(const sockaddr_storage& ss, std::string* ip, int* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    *port = ntohs(a->sin6_port);
  }
  *ip = buf;
}

int Millis(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<int64_t>(d.count(), 0, 24 * 3600 * 1000));
}

}  // namespace

ConnStream::ConnStream(int fd, const ConnLimits& limits) : fd_(fd), limits_(limits) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    AddrToString(ss, &remote_ip_, &remote_port_);
  }
  len = sizeof(ss);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    AddrToString(ss, &local_ip_, &local_port_);
  }
}

bool ConnStream::WaitFd(short events, std::chrono::milliseconds timeout) const {
  pollfd p{fd_, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, Millis(timeout));
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & (events | POLLHUP | POLLERR));
  }
}

bool ConnStream::is_readable() const {
  return rbuf_off_ < rbuf_len_ || WaitFd(POLLIN, limits_.read_timeout);
}

bool ConnStream::is_writable() const {
  return !broken() && WaitFd(POLLOUT, limits_.write_timeout) && !PeerClosed();
}

void ConnStream::BeginHeaderPhase(Clock::time_point since) {
  in_header_ = true;
  header_limit_hit_ = false;
  header_bytes_ = 0;
  line_len_ = 0;
  line_index_ = 0;
  line_name_.clear();
  line_name_done_ = false;
  prev_cr_ = false;
  head_done_ = false;
  bare_break_ = false;
  overlong_header_.clear();
  header_deadline_ = since + limits_.header_timeout;
  // Bytes read ahead with the previous request (pipelining) belong to this head.
  if (rbuf_off_ < rbuf_len_) ScanHeaderBytes(rbuf_ + rbuf_off_, rbuf_len_ - rbuf_off_);
}

void ConnStream::BeginBodyPhase() {
  in_body_ = true;
  body_too_slow_ = false;
  body_got_ = 0;
  body_start_ = Clock::now();
}

bool ConnStream::WaitReadable(std::chrono::milliseconds timeout) {
  if (wake_fd_ < 0 || !in_header_) return WaitFd(POLLIN, timeout);
  pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    int r = ::poll(p, 2, Millis(timeout));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0 && (p[1].revents & POLLIN)) {
      woken_ = true;
      return false;
    }
    return r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR));
  }
}

ssize_t ConnStream::read(char* ptr, size_t size) {
  ssize_t n = ReadSome(ptr, size);
  if (in_body_ && n > 0) body_got_ += static_cast<uint64_t>(n);
  return n;
}

ssize_t ConnStream::ReadSome(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (woken_) return -1;
  if (rbuf_off_ < rbuf_len_) {
    size_t n = std::min(size, rbuf_len_ - rbuf_off_);
    std::memcpy(ptr, rbuf_ + rbuf_off_, n);
    rbuf_off_ += n;
    return static_cast<ssize_t>(n);
  }
  if (!wbuf_.empty() && !Flush()) return -1;  // e.g. "100 Continue" must go out first
  auto timeout = limits_.read_timeout;
  bool body_bound = false;  // the body allowance, not timeouts.read, limits this wait
  if (in_header_) {
    if (header_bytes_ >= limits_.max_header_bytes) {
      header_limit_hit_ = true;
      return -1;
    }
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(header_deadline_ - Clock::now());
    if (left.count() <= 0) {
      header_limit_hit_ = true;
      return -1;
    }
    timeout = std::min(timeout, left);
  } else if (in_body_) {
    uint64_t rate = std::max<uint64_t>(limits_.min_body_rate, 1);
    auto deadline =
        body_start_ + limits_.body_timeout + std::chrono::milliseconds(body_got_ * 1000 / rate);
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      body_too_slow_ = true;
      return -1;
    }
    if (left <= timeout) {
      timeout = left;
      body_bound = true;
    }
  }
  if (!WaitReadable(timeout)) {
    body_too_slow_ = body_bound;
    return -1;
  }
  ssize_t n;
  do {
    n = ::recv(fd_, rbuf_, sizeof(rbuf_), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  rbuf_off_ = 0;
  rbuf_len_ = static_cast<size_t>(n);
  if (in_header_) {
    header_bytes_ += static_cast<size_t>(n);
    ScanHeaderBytes(rbuf_, static_cast<size_t>(n));
  }
  size_t m = std::min(size, rbuf_len_);
  std::memcpy(ptr, rbuf_, m);
  rbuf_off_ = m;
  return static_cast<ssize_t>(m);
}

// Follows the head's lines as they arrive: names the first header line over httplib's
// fixed 8 KiB limit, flags a bare CR or LF, and stops at the blank line that ends the
// head (what follows is body, where CR and LF are data).
void ConnStream::ScanHeaderBytes(const char* p, size_t n) {
  constexpr size_t kLibraryLineLimit = 8192;  // CPPHTTPLIB_HEADER_MAX_LENGTH in the .so
  for (size_t i = 0; i < n && !head_done_; ++i) {
    char c = p[i];
    if (prev_cr_ && c != '\n') bare_break_ = true;
    if (c == '\n') {
      if (!prev_cr_) {
        bare_break_ = true;
      } else if (line_len_ == 1 && line_index_ > 0) {
        head_done_ = true;  // "\r\n" alone: the end of the head
      }
      prev_cr_ = false;
      ++line_index_;
      line_len_ = 0;
      line_name_.clear();
      line_name_done_ = false;
      continue;
    }
    prev_cr_ = c == '\r';
    ++line_len_;
    if (!line_name_done_) {
      if (c == ':' || line_name_.size() >= 64)
        line_name_done_ = true;
      else
        line_name_ += c;
    }
    if (line_index_ > 0 && line_len_ > kLibraryLineLimit && overlong_header_.empty()) {
      overlong_header_ = line_name_.empty() ? "?" : line_name_;
    }
  }
}

ssize_t ConnStream::write(const char* ptr, size_t size) {
  if (swallow_) return static_cast<ssize_t>(size);
  if (broken()) return -1;
  wbuf_.append(ptr, size);
  if (wbuf_.size() >= 64 * 1024 && !Flush()) return -1;
  return static_cast<ssize_t>(size);
}

bool ConnStream::SendAll(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitFd(POLLOUT, limits_.write_timeout))
        continue;
      broken_ = true;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ConnStream::Flush() {
  if (wbuf_.empty()) return !broken();
  bool ok = SendAll(wbuf_.data(), wbuf_.size());
  wbuf_.clear();
  return ok;
}

bool ConnStream::WriteDirect(std::string_view data) {
  if (!Flush()) return false;
  return SendAll(data.data(), data.size());
}

ssize_t ConnStream::TryWriteNonBlocking(std::string_view data) {
  if (broken()) return -1;
  ssize_t w;
  do {
    w = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (w < 0 && errno == EINTR);
  if (w >= 0) return w;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  broken_ = true;
  return -1;
}

bool ConnStream::PeerClosed() const {
  if (broken()) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  int r = ::poll(&p, 1, 0);
  if (r <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return true;
  // Readable: either pipelined bytes of a next request (alive) or EOF.
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0;
}

bool ConnStream::WaitForRequest(int stop_fd, std::chrono::milliseconds idle) {
  if (rbuf_off_ < rbuf_len_) return true;
  if (!Flush()) return false;
  pollfd p[3] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    int r = ::poll(p, 3, Millis(idle));  // poll() ignores entries whose fd is -1
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (p[1].revents & POLLIN) return false;  // the server is stopping
    if (p[2].revents & POLLIN) {
      woken_ = true;  // the pool reclaims this thread
      return false;
    }
    if (p[0].revents & POLLIN) {
      char c;
      return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
    }
    return false;  // HUP or error
  }
}

void ConnStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void ConnStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

}  // namespace signalbox
