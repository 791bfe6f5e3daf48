// HttpServer: the gateway's HTTP/1.1 front, built on Debian's cpp-httplib 0.11.4 and
// hardened for its known holes (see ../shared/notes/httplib-0.11.4.md and
// server/README.md).
//
// Thread-safe: routes and the gate are registered before Run(); Stop() may be called
// from any thread. Handlers run on the connection's worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "openai/error.h"
#include "server/conn_stream.h"
#include "server/exchange.h"
#include "server/lingerer.h"

namespace signalbox {

struct ServerLimits {
  ConnLimits conn;
  size_t max_body_bytes = 8u << 20;
  int max_headers = 100;
  size_t max_connections = 4096;  // worker threads (one per connection)
  size_t min_threads = 16;
  size_t max_path = 256;
  std::chrono::milliseconds keepalive_idle{60'000};
  size_t keepalive_max_requests = 100'000;
  LingerLimits linger;  // lingering close after a refusal (see lingerer.h)
};

// What the gate sees before the body is read.
class RequestHead {
 public:
  virtual ~RequestHead() = default;
  virtual std::string_view method() const = 0;
  virtual std::string_view path() const = 0;
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
};

class HttpServer {
 public:
  using Handler = std::function<void(Exchange&)>;
  // Runs before the body is read (auth, admission). An error is answered at once and the
  // connection is closed (its body was never read).
  using Gate = std::function<std::optional<ApiError>(const RequestHead&)>;
  // Called for every request the server refuses itself (framing, limits, unknown path,
  // the gate): returns headers to add (e.g. x-request-id) and may count and log it.
  using OnRefusal = std::function<std::vector<Header>(const RequestHead&, const ApiError&)>;

  explicit HttpServer(const ServerLimits& limits);
  ~HttpServer();

  void Get(const std::string& path, Handler h);
  void Post(const std::string& path, Handler h);
  void SetGate(Gate gate);
  void SetOnRefusal(OnRefusal fn);

  // Binds the listening socket (port 0 = any free port) with a deep backlog.
  Status Bind(const std::string& host, int port);
  int port() const;
  // Serves until Stop(). Returns after every connection has finished.
  void Run();
  // Stops accepting and closes idle connections; requests in flight run to completion.
  void Stop();

  size_t worker_threads() const;
  uint64_t shed_connections() const;
  // Connections closed to give their thread to a new one (see ElasticPool).
  uint64_t reclaimed_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalbox
