// Connection: reaching the TCP socket behind a request from inside an httplib handler.
//
// httplib 0.11.4 gives a handler no access to its socket, yet the mock must see a
// client leave while it waits before the first byte (hang, latency, slow first byte),
// and must send a TCP RST for the `reset` fault. The accepted socket is the only fd in
// the process whose local port is the request's local port and whose peer is the
// request's remote address and port, so we find it by scanning /proc/self/fd.
//
// Free functions; thread-safe. They never close an fd httplib owns: they only poll it,
// set options on it, or shut it down, and httplib closes it as usual.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <utility>

namespace signalbox::mock {

// Returns the fd of the accepted socket with this local port and this peer, or -1.
int FindConnectionFd(int local_port, const std::string& remote_addr, int remote_port);

// True when the peer has closed (FIN or RST) the connection on fd.
bool PeerClosed(int fd);

enum class WaitResult { kElapsed, kPeerClosed, kStopping };

// Waits `duration` (forever when negative), checking every 50 ms or less whether the
// peer on fd (if fd >= 0) closed the connection or `stopping` became true.
WaitResult WaitWatchingPeer(int fd, std::chrono::milliseconds duration,
                            const std::atomic<bool>& stopping);

// Makes the kernel send a TCP RST on fd now and discard unsent data; later writes by
// httplib fail and its close() is harmless. REQUIRES: fd is a connected TCP socket.
void ResetConnection(int fd);

// Shuts down (both directions) every accepted connection on local_port, so httplib
// workers waiting for the next keep-alive request return at once on shutdown.
void ShutdownAcceptedConnections(int local_port);

// The connection of one request, identified by the addresses httplib reports; the fd
// is looked up on first use only, since most requests never need it.
// One-per-request; not thread-safe.
class Connection {
 public:
  Connection(int local_port, std::string remote_addr, int remote_port)
      : local_port_(local_port), remote_addr_(std::move(remote_addr)), remote_port_(remote_port) {}

  // The accepted socket, or -1 if it cannot be found (then waits cannot see the peer).
  int fd();
  WaitResult Wait(std::chrono::milliseconds duration, const std::atomic<bool>& stopping) {
    return WaitWatchingPeer(fd(), duration, stopping);
  }
  bool PeerClosed() { return fd() >= 0 && mock::PeerClosed(fd()); }
  void Reset() {
    if (fd() >= 0) ResetConnection(fd());
  }

 private:
  int local_port_;
  std::string remote_addr_;
  int remote_port_;
  int fd_ = -1;
  bool looked_up_ = false;
};

}  // namespace signalbox::mock
