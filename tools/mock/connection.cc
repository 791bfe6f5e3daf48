#include "mock/connection.h"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <thread>

namespace signalbox::mock {
namespace {

constexpr std::chrono::milliseconds kPollSlice{50};

int PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return -1;
}

// Calls fn(fd) for every fd of this process that is a TCP socket bound to local_port
// and connected to a peer (so never the listening socket). Stops when fn returns true.
void ForEachConnection(int local_port,
                       const std::function<bool(int fd, const sockaddr_storage& peer)>& fn) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof(local);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        PortOf(local) != local_port) {
      continue;
    }
    len = sizeof(peer);
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      continue;
    }
    if (fn(static_cast<int>(fd), peer)) break;
  }
  closedir(dir);
}

// True when peer is remote_addr:remote_port, with remote_addr in the numeric form
// httplib uses for req.remote_addr.
bool PeerMatches(const sockaddr_storage& peer, const std::string& remote_addr, int remote_port) {
  if (PortOf(peer) != remote_port) return false;
  char host[NI_MAXHOST];
  return getnameinfo(reinterpret_cast<const sockaddr*>(&peer), sizeof(peer), host, sizeof(host),
                     nullptr, 0, NI_NUMERICHOST) == 0 &&
         remote_addr == host;
}

bool Matches(int fd, int local_port, const std::string& remote_addr, int remote_port) {
  sockaddr_storage local{}, peer{};
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
      PortOf(local) != local_port) {
    return false;
  }
  len = sizeof(peer);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
         PeerMatches(peer, remote_addr, remote_port);
}

}  // namespace

int FindConnectionFd(int local_port, const std::string& remote_addr, int remote_port) {
  // httplib serves a connection on one worker thread for its whole keep-alive life, so
  // the fd found for the previous request of this thread is most likely this one's too.
  // It is checked before use: the fd number may since serve another connection.
  thread_local int cached_fd = -1;
  if (cached_fd >= 0 && Matches(cached_fd, local_port, remote_addr, remote_port)) {
    return cached_fd;
  }
  int found = -1;
  ForEachConnection(local_port, [&](int fd, const sockaddr_storage& peer) {
    if (!PeerMatches(peer, remote_addr, remote_port)) return false;
    found = fd;
    return true;
  });
  cached_fd = found;
  return found;
}

bool PeerClosed(int fd) {
  pollfd pfd{fd, POLLRDHUP, 0};
  return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

WaitResult WaitWatchingPeer(int fd, std::chrono::milliseconds duration,
                            const std::atomic<bool>& stopping) {
  using Clock = std::chrono::steady_clock;
  const bool forever = duration.count() < 0;
  const auto deadline = Clock::now() + (forever ? std::chrono::milliseconds(0) : duration);
  while (true) {
    if (stopping.load(std::memory_order_relaxed)) return WaitResult::kStopping;
    auto slice = kPollSlice;
    if (!forever) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return WaitResult::kElapsed;
      slice = std::min(slice, left);
    }
    if (fd < 0) {
      std::this_thread::sleep_for(slice);
      continue;
    }
    // POLLIN is not asked for: bytes of a pipelined request must not end the wait.
    pollfd pfd{fd, POLLRDHUP, 0};
    int n = poll(&pfd, 1, static_cast<int>(slice.count()));
    if (n > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
      return WaitResult::kPeerClosed;
    }
  }
}

void ResetConnection(int fd) {
  // SO_LINGER {1, 0} makes the final close() abortive; connect(AF_UNSPEC) disconnects
  // the socket now (Linux sends the RST at once), so httplib cannot write a byte first.
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  (void)connect(fd, &unspec, sizeof(unspec));
}

int Connection::fd() {
  if (!looked_up_) {
    fd_ = FindConnectionFd(local_port_, remote_addr_, remote_port_);
    looked_up_ = true;
  }
  return fd_;
}

void ShutdownAcceptedConnections(int local_port) {
  ForEachConnection(local_port, [](int fd, const sockaddr_storage&) {
    shutdown(fd, SHUT_RDWR);
    return false;
  });
}

}  // namespace signalbox::mock
