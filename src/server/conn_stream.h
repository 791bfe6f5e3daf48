// ConnStream: the gateway's own httplib::Stream over one accepted client socket.
//
// One-per-connection, used by the connection's worker thread (PeerClosed() and
// TryWriteNonBlocking() may be called from the watchdog thread while that thread is
// blocked elsewhere; they touch only the socket and atomics).
//
// Owning the stream (instead of httplib's SocketStream) closes holes of httplib 0.11.4
// that no hook can: the request line and headers are bounded in bytes and in time (a
// 100 MB header line or a slowloris drip fails fast instead of growing memory or holding
// a worker), output is coalesced into one write per response (no Nagle stall between
// headers and body, fewer syscalls), and the gateway can write a streamed response
// straight to the socket as upstream events arrive.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace signalbox {

struct ConnLimits {
  std::chrono::milliseconds read_timeout{30'000};    // per read once a request started
  std::chrono::milliseconds write_timeout{300'000};  // per blocked write
  std::chrono::milliseconds header_timeout{10'000};  // request line + headers, in total
  size_t max_header_bytes = 64 * 1024;
  // A request body must arrive within body_timeout + (bytes received) / min_body_rate
  // seconds of the end of its headers (Apache's mod_reqtimeout "body=10,MinRate=..."):
  // a client that keeps up min_body_rate is never cut, a trickle is.
  std::chrono::milliseconds body_timeout{10'000};
  uint64_t min_body_rate = 4096;  // bytes per second
};

class ConnStream final : public httplib::Stream {
 public:
  ConnStream(int fd, const ConnLimits& limits);

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

  // When the event fd `fd` becomes readable, a wait for a request and the header phase's
  // reads end at once and woken() turns true (the pool reclaims the connection's thread
  // for a new connection). -1 = none.
  void set_wake_fd(int fd) { wake_fd_ = fd; }
  bool woken() const { return woken_; }

  // Waits until a request's first byte is available (buffered or on the socket), the
  // peer closes, `idle` passes, or `stop_fd` (or the wake fd) becomes readable.
  // True = a request waits.
  bool WaitForRequest(int stop_fd, std::chrono::milliseconds idle);

  // The header phase: reads are bounded by max_header_bytes and by header_timeout
  // counted from `since` (the accept for a connection's first request, the first byte
  // for the next ones). Bytes already buffered (pipelined) are scanned too.
  void BeginHeaderPhase(std::chrono::steady_clock::time_point since);
  void EndHeaderPhase() { in_header_ = false; }
  bool header_limit_hit() const { return header_limit_hit_; }
  // A bare LF or a bare CR in the request line or headers (RFC 9112 2.2 and 5.2): httplib
  // silently skips a line ending in a bare LF and keeps a bare CR inside a value, so two
  // parsers could read two different requests. The gateway refuses such a head.
  bool bare_line_break() const { return bare_break_; }

  // The body phase: reads are bounded by the body allowance (ConnLimits::body_timeout
  // and min_body_rate); body_too_slow() tells why a read failed.
  void BeginBodyPhase();
  void EndBodyPhase() { in_body_ = false; }
  bool body_too_slow() const { return body_too_slow_; }
  // The name of the first header line longer than httplib's fixed 8 KiB line limit in
  // the current request ("" if none): httplib answers it with a bare 400, the gateway
  // says which header was too long (an over-long Authorization is a 401).
  const std::string& overlong_header() const { return overlong_header_; }

  // Sends buffered output. False if the client is gone or the write timed out.
  bool Flush();
  // While set, httplib's own response writes are dropped (the gateway has already
  // written a streamed response itself).
  void set_swallow_writes(bool on) { swallow_ = on; }

  // Writes now, bypassing the buffer (flushes it first). Blocks up to write_timeout.
  bool WriteDirect(std::string_view data);
  // Writes what fits without blocking; returns bytes written or -1 if the peer is gone.
  ssize_t TryWriteNonBlocking(std::string_view data);

  // True when the peer has closed or reset the connection (non-blocking check).
  bool PeerClosed() const;
  bool broken() const { return broken_.load(std::memory_order_relaxed); }

 private:
  bool WaitFd(short events, std::chrono::milliseconds timeout) const;
  // Header/body phase reads: waits for input on the socket or a wake-up.
  bool WaitReadable(std::chrono::milliseconds timeout);
  bool SendAll(const char* p, size_t n);

  const int fd_;
  const ConnLimits limits_;
  std::string remote_ip_;
  int remote_port_ = 0;
  std::string local_ip_;
  int local_port_ = 0;

  char rbuf_[4096];
  size_t rbuf_off_ = 0;
  size_t rbuf_len_ = 0;
  std::string wbuf_;

  void ScanHeaderBytes(const char* p, size_t n);
  ssize_t ReadSome(char* ptr, size_t size);

  bool in_header_ = false;
  size_t line_len_ = 0;    // bytes of the header line being received
  size_t line_index_ = 0;  // 0 = the request line (its limit is httplib's 414)
  std::string line_name_;  // its name so far (up to ':' and 64 bytes)
  bool line_name_done_ = false;
  bool prev_cr_ = false;    // the last scanned byte was CR
  bool head_done_ = false;  // the blank line was scanned: what follows is the body
  bool bare_break_ = false;
  std::string overlong_header_;
  bool header_limit_hit_ = false;
  size_t header_bytes_ = 0;
  std::chrono::steady_clock::time_point header_deadline_;
  bool in_body_ = false;
  bool body_too_slow_ = false;
  uint64_t body_got_ = 0;
  std::chrono::steady_clock::time_point body_start_;
  int wake_fd_ = -1;
  bool woken_ = false;
  bool swallow_ = false;
  std::atomic<bool> broken_{false};
};

}  // namespace signalbox
