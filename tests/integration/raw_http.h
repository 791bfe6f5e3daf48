// RawConnection: a raw-socket HTTP/1.1 client for tests of the gateway's HTTP front.
//
// httplib's client normalises what it sends and hides how a connection ends; framing
// and abuse tests need neither. RawConnection connects to 127.0.0.1:PORT, sends any
// bytes (malformed, pipelined, dripped), parses whatever comes back into responses
// (Content-Length, chunked, or read-until-close bodies) and tells whether the server
// closed the connection.
//
// One-per-connection, not thread-safe; a test may run several on separate threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace signalbox::testing {

struct RawResponse {
  std::string status_line;  // e.g. "HTTP/1.1 200 OK"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as received
  std::string body;                                          // de-chunked
  bool chunked = false;

  // First value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
  size_t HeaderCount(std::string_view name) const;
  bool Has(std::string_view name) const { return HeaderCount(name) > 0; }
  // Status line, headers and the first `body_chars` of the body, for failure messages.
  std::string Describe(size_t body_chars = 300) const;
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:port (blocking connect).
  static StatusOr<RawConnection> Connect(int port);

  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection();

  // Sends every byte (blocking, but never longer than `timeout` in total). False when
  // the peer closed or reset the connection, or the timeout passed.
  bool Send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Half-closes the sending side (the server then reads EOF).
  void ShutdownWrite();

  // Reads the next complete response (1xx interim responses included) within
  // `timeout`. nullopt when the connection ends or the timeout passes first; a body
  // without Content-Length or chunked framing is read until the server closes.
  // `head_only`: the response has no body (the request was HEAD).
  std::optional<RawResponse> ReadResponse(std::chrono::milliseconds timeout,
                                          bool head_only = false);
  // Reads the next response's status line and headers only (for streams still in
  // progress); the body bytes stay unread. nullopt on close or timeout.
  std::optional<RawResponse> ReadHead(std::chrono::milliseconds timeout);
  // Reads responses until the server closes the connection or `timeout` passes.
  std::vector<RawResponse> ReadAll(std::chrono::milliseconds timeout);
  // Waits until the server closes the connection (EOF or reset), discarding nothing:
  // bytes that arrive meanwhile stay readable as responses. True = closed.
  bool WaitForClose(std::chrono::milliseconds timeout);

  // True once a read saw EOF or a reset.
  bool closed() const { return closed_; }
  // Bytes received but not (yet) parsed as a response.
  const std::string& unparsed() const { return buf_; }
  int fd() const { return fd_; }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  // Parses a complete head at the start of buf_ into `res`; returns the offset of the
  // body, or npos when the head is incomplete.
  size_t ParseHead(RawResponse* res) const;
  // Receives more bytes into buf_ before `deadline`; false on EOF, error or timeout.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  void Close();

  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
};

// Builds a request: "METHOD TARGET HTTP/1.1", Host, the given headers in order, then
// Content-Length (when `content_length` is true and the method is not GET/HEAD, or the
// body is not empty), a blank line and the body.
std::string BuildRequest(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::string_view body = "", bool content_length = true);

// "" when `r` is an OpenAI-shaped JSON error with one of `statuses`: Content-Type
// application/json, an x-request-id, {"error":{"message":str,"type":str,"param":str|null,
// "code":str|null}}, no HTML, no exception text. Otherwise what is wrong, and the response.
std::string ErrorShapeProblem(const RawResponse& r, std::initializer_list<int> statuses);

// A connection to 127.0.0.1:`port`; fails the test when it cannot connect.
RawConnection OpenRaw(int port);

// Sends `bytes` on a fresh connection and returns the first response; fails the test
// when none arrives within `timeout`.
RawResponse RoundTrip(int port, const std::string& bytes,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The `error` object of an OpenAI-shaped error body; null for anything else.
nlohmann::json ErrorOf(const RawResponse& r);

// POST /v1/chat/completions with Content-Type: application/json, `extra` headers and `body`.
std::string ChatRequest(const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& extra = {});

// Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status); -1 if unknown.
int64_t RssKib(pid_t pid);

}  // namespace signalbox::testing
