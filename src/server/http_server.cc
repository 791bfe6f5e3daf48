#include "server/http_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <map>

#include "common/log.h"
#include "server/elastic_pool.h"
#include "server/framing.h"
#include "server/http_exchange.h"

namespace signalbox {

using server_internal::HttplibExchange;
using server_internal::NormalizeTarget;
using server_internal::ParseContentLength;
using server_internal::ReadBody;

namespace {

// A worker keeps its body buffer up to this size between requests.
constexpr size_t kKeptBodyCapacity = 1 << 20;

// The connection being served by this worker thread.
struct ConnState {
  ConnStream* stream = nullptr;
  ElasticPool* pool = nullptr;
  uint64_t ticket = 0;     // registered as reclaimable while no request head is complete
  bool reclaimed = false;  // the pool took this thread back for a new connection
  bool force_close = false;

  void Release() {
    if (ticket != 0 && pool != nullptr && !pool->RemoveReclaimable(ticket)) reclaimed = true;
    ticket = 0;
  }
};
thread_local ConnState* t_conn = nullptr;

// One eventfd per worker thread: the pool writes it to reclaim the thread.
struct WakeFd {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ~WakeFd() {
    if (fd >= 0) ::close(fd);
  }
  void Drain() const {
    uint64_t v;
    if (fd >= 0) (void)!::read(fd, &v, sizeof(v));
  }
};

// The head is complete: the connection is no longer reclaimable, the header limits end,
// and what httplib would slice or compress is removed.
void HeadComplete(ConnState& state, httplib::Request& req) {
  state.stream->EndHeaderPhase();
  state.Release();
  NormalizeTarget(req);
  // Never slice or compress a response: Range would cut a JSON body, and compression
  // would buffer and cost CPU.
  req.ranges.clear();
  req.headers.erase("Accept-Encoding");
}

class HeadView final : public RequestHead {
 public:
  explicit HeadView(const httplib::Request& r) : r_(r) {}
  std::string_view method() const override { return r_.method; }
  std::string_view path() const override { return r_.path; }
  std::optional<std::string_view> header(std::string_view name) const override {
    auto it = r_.headers.find(std::string(name));
    if (it == r_.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  }

 private:
  const httplib::Request& r_;
};

server_internal::FramingLimits FramingLimitsOf(const ServerLimits& l) {
  server_internal::FramingLimits f;
  f.max_headers = l.max_headers;
  f.max_path = l.max_path;
  f.max_body_bytes = l.max_body_bytes;
  return f;
}

// The answer to a connection the pool had no thread for: written straight to the socket
// before any request byte is parsed, then the connection is closed.
void ShedConnection(int sock) {
  char drain[4096];
  while (::recv(sock, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
  }
  ApiError e =
      MakeError(ErrorCode::kOverloaded, "The gateway is at its connection limit; retry shortly.");
  std::string body = ErrorBody(e);
  std::string resp = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
      body.size(), body);
  (void)!::send(sock, resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(sock, SHUT_WR);
}

}  // namespace

class HttpServer::Impl : public httplib::Server {
 public:
  explicit Impl(const ServerLimits& limits)
      : limits_(limits), lingerer_(std::make_unique<Lingerer>(limits.linger)) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    new_task_queue = [this]() -> httplib::TaskQueue* {
      auto* pool = new ElasticPool(limits_.min_threads, limits_.max_connections);
      pool_ = pool;
      return pool;
    };
    set_tcp_nodelay(true);
    set_read_timeout(
        std::chrono::duration_cast<std::chrono::seconds>(limits_.conn.read_timeout).count());
    set_write_timeout(
        std::chrono::duration_cast<std::chrono::seconds>(limits_.conn.write_timeout).count());
    set_keep_alive_max_count(limits_.keepalive_max_requests);
    set_keep_alive_timeout(
        std::chrono::duration_cast<std::chrono::seconds>(limits_.keepalive_idle).count());
    set_payload_max_length(limits_.max_body_bytes);
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second copy of the
    // gateway start on the same port and silently share its traffic.
    set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd_ = sock;
    });
    set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
    // httplib answers "100 Continue" before any hook runs; check first whether the request
    // will be refused, so a client does not upload a body only to have it thrown away.
    set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
      return ExpectContinue(req, res);
    });
    set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          return OnLibraryError(req, res);
        }));
    set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
          ApiError e = MakeError(ErrorCode::kInternal, "The gateway failed to handle the request.");
          res.status = 500;
          res.set_content(ErrorBody(e, ErrorShapeForPath(req.path)), "application/json");
          if (t_conn) t_conn->force_close = true;
        });
  }
  ~Impl() override {
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }

  std::map<std::pair<std::string, std::string>, HttpServer::Handler> routes_;
  HttpServer::Gate gate_;
  HttpServer::OnRefusal on_refusal_;
  ServerLimits limits_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_fd_ = -1;
  std::atomic<ElasticPool*> pool_{nullptr};
  std::unique_ptr<Lingerer> lingerer_;  // outlives the pool: its jobs hand sockets over

  void Shutdown() {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
    stop();
  }

 private:
  bool process_and_close_socket(socket_t sock) override;
  HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  HandlerResponse OnLibraryError(const httplib::Request& req, httplib::Response& res);
  std::optional<ApiError> CheckFraming(const httplib::Request& req) const {
    return server_internal::CheckFraming(req, FramingLimitsOf(limits_),
                                         t_conn != nullptr && t_conn->reclaimed,
                                         t_conn != nullptr && t_conn->stream->bare_line_break());
  }
  int ExpectContinue(const httplib::Request& req, httplib::Response& res);
  void Refuse(const httplib::Request& req, httplib::Response& res, const ApiError& e);
};

bool HttpServer::Impl::process_and_close_socket(socket_t sock) {
  if (ElasticPool::InShedMode()) {
    ShedConnection(sock);
    lingerer_->Close(sock);
    return true;
  }
  const auto accepted = std::chrono::steady_clock::now();
  int yes = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  ConnStream stream(sock, limits_.conn);
  thread_local WakeFd wake;
  stream.set_wake_fd(wake.fd);
  ConnState state;
  state.stream = &stream;
  state.pool = pool_.load();
  t_conn = &state;
  size_t left = limits_.keepalive_max_requests;
  bool first = true;
  while (left-- > 0 && svr_sock_ != INVALID_SOCKET) {
    // Until its head is complete, the connection may give its thread to a new one.
    wake.Drain();
    if (state.pool != nullptr) state.ticket = state.pool->AddReclaimable(wake.fd);
    // The first request must arrive within timeouts.header of the accept (a connection
    // that sends nothing is not an idle keep-alive connection); later ones within the
    // keep-alive idle timeout, and then their head within timeouts.header.
    auto wait = first ? limits_.conn.header_timeout : limits_.keepalive_idle;
    if (!stream.WaitForRequest(stop_fd_, wait)) {
      state.Release();
      break;
    }
    stream.BeginHeaderPhase(first ? accepted : std::chrono::steady_clock::now());
    first = false;
    bool connection_closed = false;
    bool ok = process_request(stream, /*close_connection=*/left == 0, connection_closed,
                              [&state](httplib::Request& req) { HeadComplete(state, req); });
    state.Release();  // parsing failed before the head was complete
    stream.set_swallow_writes(false);
    if (!stream.Flush() || !ok || connection_closed || state.force_close || state.reclaimed) break;
  }
  t_conn = nullptr;
  if (state.force_close && !stream.broken()) {
    // A refusal: the client may still be sending the body we did not read. Closing now
    // would reset the connection and destroy the unread answer (RFC 9112 9.6).
    lingerer_->Close(sock);
    return true;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return true;
}

void HttpServer::Impl::Refuse(const httplib::Request& req, httplib::Response& res,
                              const ApiError& e) {
  res.status = e.status;
  if (on_refusal_) {
    HeadView head(req);
    for (const auto& h : on_refusal_(head, e)) res.set_header(h.name, h.value);
  }
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  if (e.no_retry) res.set_header("x-should-retry", "false");
  res.set_header("Connection", "close");
  res.set_content(ErrorBody(e, ErrorShapeForPath(req.path)), "application/json");
  if (t_conn) t_conn->force_close = true;
}

int HttpServer::Impl::ExpectContinue(const httplib::Request& req, httplib::Response& res) {
  std::optional<ApiError> e = CheckFraming(req);
  if (!e && routes_.find({req.method, req.path}) == routes_.end()) {
    e = MakeError(ErrorCode::kNotFound, "Unknown path.");
  }
  if (!e && gate_) {
    HeadView head(req);
    e = gate_(head);
  }
  if (!e) return 100;
  Refuse(req, res, *e);
  return e->status;
}

httplib::Server::HandlerResponse HttpServer::Impl::PreRoute(const httplib::Request& req,
                                                            httplib::Response& res) {
  ConnStream* conn = t_conn ? t_conn->stream : nullptr;
  if (conn == nullptr) {  // not one of our connections: cannot happen
    Refuse(req, res, MakeError(ErrorCode::kInternal, "Connection state missing."));
    return HandlerResponse::Handled;
  }
  if (auto e = CheckFraming(req)) {
    Refuse(req, res, *e);
    return HandlerResponse::Handled;
  }
  auto it = routes_.find({req.method == "HEAD" ? "GET" : req.method, req.path});
  if (it == routes_.end()) {
    bool other_method = false;
    for (const auto& r : routes_) other_method |= r.first.second == req.path;
    Refuse(req, res,
           other_method
               ? MakeError(ErrorCode::kMethodNotAllowed,
                           fmt::format("{} is not allowed on this path.", req.method))
               : MakeError(ErrorCode::kNotFound,
                           "Unknown path. The API lives under /v1 (e.g. /v1/chat/completions)."));
    return HandlerResponse::Handled;
  }
  HeadView head(req);
  if (gate_) {
    if (auto e = gate_(head)) {
      Refuse(req, res, *e);
      return HandlerResponse::Handled;
    }
  }
  // The body buffer is the worker thread's, reused request after request: a ~1 KB chat
  // body is past malloc's per-thread cache, and its allocation showed in profiles.
  thread_local std::string body;
  body.clear();
  if (body.capacity() > kKeptBodyCapacity) body.shrink_to_fit();
  if (req.has_header("Content-Length")) {
    uint64_t len = 0;
    ParseContentLength(req.get_header_value("Content-Length"), &len);
    conn->BeginBodyPhase();
    bool read = len == 0 || ReadBody(*conn, static_cast<size_t>(len), &body);
    conn->EndBodyPhase();
    if (!read && conn->body_too_slow()) {
      Refuse(req, res,
             MakeError(
                 ErrorCode::kRequestTimeout,
                 fmt::format(
                     "The request body arrived too slowly (allowed: {} ms plus 1 s per {} bytes).",
                     limits_.conn.body_timeout.count(), limits_.conn.min_body_rate)));
      return HandlerResponse::Handled;
    }
    if (!read) {
      // The client stalled or left mid-body: nothing sensible can be answered.
      t_conn->force_close = true;
      res.status = 408;
      return HandlerResponse::Handled;
    }
  }
  bool close_after = req.get_header_value("Connection") == "close" || req.version == "HTTP/1.0";
  HttplibExchange ex(req, res, *conn, body, close_after);
  try {
    it->second(ex);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "handler failed").Field("path", req.path).Field("error", e.what());
    if (!ex.committed()) {
      res = httplib::Response();
      Refuse(req, res,
             MakeError(ErrorCode::kInternal, "The gateway failed to handle the request."));
    }
    t_conn->force_close = true;
  }
  if (ex.must_close()) t_conn->force_close = true;
  if (res.status == -1) res.status = 200;
  return HandlerResponse::Handled;
}

httplib::Server::HandlerResponse HttpServer::Impl::OnLibraryError(const httplib::Request& req,
                                                                  httplib::Response& res) {
  // Our own responses already carry a body; only httplib's empty errors are shaped here
  // (malformed request line or headers, a URI over 8 KiB, a bad Range).
  if (!res.body.empty() || res.is_chunked_content_provider_) return HandlerResponse::Unhandled;
  ConnStream* conn = t_conn ? t_conn->stream : nullptr;
  if (res.status == 416 && conn != nullptr && !conn->header_limit_hit()) {
    // httplib parses Range and refuses a bad one before any hook runs. A Range on these
    // endpoints means nothing (RFC 9110 14.2 lets a server ignore it), so the request
    // is served as if it had none: the headers are complete and the body is unread.
    auto& r = const_cast<httplib::Request&>(req);  // the library's own mutable local
    r.headers.erase("Range");
    HeadComplete(*t_conn, r);
    res.status = -1;
    res.headers.clear();
    res.body.clear();
    PreRoute(req, res);
    if (res.status == -1) res.status = 200;
    return HandlerResponse::Handled;
  }
  ApiError e = MakeError(res.status == 413 ? ErrorCode::kRequestTooLarge : ErrorCode::kBadRequest,
                         fmt::format("The request could not be parsed ({}).", res.status));
  if (conn != nullptr && conn->woken()) {
    e = MakeError(ErrorCode::kOverloaded, "The gateway is at its connection limit; retry shortly.");
  } else if (conn != nullptr && conn->bare_line_break()) {
    e = MakeError(ErrorCode::kInvalidLineBreak,
                  "A line of the request head ends in a bare LF or contains a bare CR.");
  } else if (conn != nullptr && !conn->overlong_header().empty()) {
    std::string name = conn->overlong_header();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    e = name == "authorization"
            ? MakeError(ErrorCode::kInvalidApiKey, "The API key is too long to be valid.")
            : MakeError(ErrorCode::kRequestHeaderTooLarge,
                        "A request header line is longer than 8 KiB.");
  } else if (conn != nullptr && conn->header_limit_hit()) {
    e = MakeError(ErrorCode::kRequestHeaderTooLarge,
                  "The request line and headers are too large or too slow to arrive.");
  } else if (res.status == 414) {
    e = MakeError(ErrorCode::kUriTooLong, "The request URI is too long.");
  }
  res.status = e.status;
  if (on_refusal_) {
    HeadView head(req);
    for (const auto& h : on_refusal_(head, e)) res.set_header(h.name, h.value);
  }
  res.set_header("Connection", "close");
  res.set_content(ErrorBody(e, ErrorShapeForPath(req.path)), "application/json");
  if (t_conn) t_conn->force_close = true;
  return HandlerResponse::Handled;
}

HttpServer::HttpServer(const ServerLimits& limits) : impl_(std::make_unique<Impl>(limits)) {}
HttpServer::~HttpServer() = default;

void HttpServer::Get(const std::string& path, Handler h) {
  impl_->routes_[{"GET", path}] = std::move(h);
}
void HttpServer::Post(const std::string& path, Handler h) {
  impl_->routes_[{"POST", path}] = std::move(h);
}
void HttpServer::SetGate(Gate gate) { impl_->gate_ = std::move(gate); }
void HttpServer::SetOnRefusal(OnRefusal fn) { impl_->on_refusal_ = std::move(fn); }

Status HttpServer::Bind(const std::string& host, int port) {
  if (port == 0) {
    port = impl_->bind_to_any_port(host);
    if (port <= 0) return Unavailable(fmt::format("cannot listen on {}:0", host));
  } else if (!impl_->bind_to_port(host, port)) {
    return Unavailable(
        fmt::format("cannot listen on {}:{} (in use, or no permission)", host, port));
  }
  impl_->port_ = port;
  // httplib listens with a backlog of 5; connection bursts then overflow the accept
  // queue and clients see SYN retransmits of a second or more.
  if (impl_->listen_fd_ >= 0) ::listen(impl_->listen_fd_, 4096);
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port_; }
void HttpServer::Run() { impl_->listen_after_bind(); }
void HttpServer::Stop() { impl_->Shutdown(); }

size_t HttpServer::worker_threads() const {
  ElasticPool* p = impl_->pool_.load();
  return p ? p->threads() : 0;
}

uint64_t HttpServer::reclaimed_connections() const {
  ElasticPool* p = impl_->pool_.load();
  return p ? p->reclaimed_total() : 0;
}

uint64_t HttpServer::shed_connections() const {
  ElasticPool* p = impl_->pool_.load();
  return p ? p->shed_total() : 0;
}

}  // namespace signalbox
