// Lingerer: nginx's "lingering close" for connections the server refuses.
//
// Thread-safe; one background thread. When the gateway refuses a request before reading
// its body (413, 401, 431, 503 overload, ...) and closes the connection at once, the
// client is often still uploading. Closing a socket with unread bytes in its receive
// queue makes the kernel send a reset, and the reset destroys the refusal the client has
// not read yet: the client sees "connection reset" instead of the 413 (the official Node
// SDK reports `APIConnectionError` and retries, uploading the body again). So a refused
// connection is not closed: its write side is shut (the client sees the answer and then
// EOF), and the Lingerer reads and discards what the client still sends until the client
// closes, or `max_bytes` were discarded, or no byte came for `idle`, or `time` passed
// since the hand-over; then it closes the socket. Lingering costs a file descriptor and
// a place in one epoll set, never a worker thread. At most `max_sockets` linger at once;
// past that a socket is closed at once (the old behaviour).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

namespace signalbox {

struct LingerLimits {
  std::chrono::milliseconds time{30'000};  // total, from the hand-over; 0 = no lingering
  std::chrono::milliseconds idle{5'000};   // longest wait for the next byte
  uint64_t max_bytes = 64ull << 20;        // discarded per connection, then closed
  size_t max_sockets = 4096;               // lingering at once
};

class Lingerer {
 public:
  explicit Lingerer(const LingerLimits& limits);
  ~Lingerer();  // closes every socket still lingering

  // Takes ownership of `fd`: shuts its write side (what was sent is delivered first),
  // discards what the peer still sends, and closes it within the limits.
  void Close(int fd);

  size_t lingering() const;
  uint64_t total() const;           // sockets that lingered
  uint64_t closed_at_once() const;  // over max_sockets (or lingering off)

 private:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;  // min(hand-over + time, last byte + idle)
    std::chrono::steady_clock::time_point hard_deadline;
    uint64_t discarded = 0;
  };
  void Loop();
  void Drop(int fd);  // REQUIRES: mu_ held

  const LingerLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  mutable std::mutex mu_;
  std::map<int, Entry> sockets_;  // GUARDED_BY(mu_)
  uint64_t total_ = 0;            // GUARDED_BY(mu_)
  uint64_t closed_at_once_ = 0;   // GUARDED_BY(mu_)
  bool stop_ = false;             // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace signalbox
