// Exchange: one HTTP request and its response, as the gateway's handlers see them.
//
// The transport-neutral seam between server/ (httplib) and the request pipeline, so the
// pipeline can be tested without sockets and the transport replaced. One-per-request;
// all calls come from the request's thread except TryHeartbeat(), which the watchdog may
// call concurrently (the implementation serialises stream writes).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signalbox {

struct Header {
  std::string name;
  std::string value;
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual std::string_view method() const = 0;
  virtual std::string_view path() const = 0;
  // The first value of a query parameter (`?beta=true`), or nullopt.
  virtual std::optional<std::string_view> query_param(std::string_view name) const = 0;
  // Case-insensitive lookup of the first value of a request header.
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  virtual void ForEachHeader(
      const std::function<void(std::string_view, std::string_view)>& fn) const = 0;
  virtual std::string_view body() const = 0;
  virtual std::string_view remote_addr() const = 0;

  // A complete response. At most once, and not after StreamBegin().
  virtual void Respond(int status, const std::vector<Header>& headers,
                       std::string_view content_type, std::string body) = 0;

  // A streamed (chunked) response: status and headers go out now (the commit point),
  // then each StreamWrite() is sent as one chunk at once. False = the client is gone.
  virtual bool StreamBegin(int status, const std::vector<Header>& headers,
                           std::string_view content_type) = 0;
  virtual bool StreamWrite(std::string_view data) = 0;
  // Ends the chunked body cleanly (the connection may be reused).
  virtual bool StreamEnd() = 0;
  // Ends the response by closing the connection (no clean end of the body).
  virtual void StreamAbort() = 0;
  virtual bool committed() const = 0;

  // Non-blocking: has the client closed its connection?
  virtual bool ClientGone() const = 0;
  // The client socket for the watchdog's hang-up poll, or -1.
  virtual int client_fd() const = 0;

  // From another thread: if the stream is not committed yet, commits it with
  // `status`/`headers`, then writes `data` as a chunk without blocking (skipped if the
  // socket buffer is full). Returns false once the client is gone.
  virtual bool TryHeartbeat(int status, const std::vector<Header>& headers,
                            std::string_view content_type, std::string_view data) = 0;
};

}  // namespace signalbox
