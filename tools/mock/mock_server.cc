#include "mock/mock_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <regex>

#include "common/json_writer.h"
#include "common/log.h"
#include "mock/anthropic_shapes.h"

namespace signalbox::mock {
namespace {

constexpr int kListenBacklog = 4096;
constexpr size_t kKeepAliveMaxCount = 100000;
constexpr time_t kKeepAliveTimeoutSec = 60;
constexpr time_t kWriteTimeoutSec = 30;
constexpr size_t kMaxBodyBytes = 64 << 20;
// Logged for requests the mock gave up on because the client left (nginx's code).
constexpr int kClientClosedStatus = 499;

// httplib adds these to every request; they are not what the client sent.
bool IsInternalHeader(const std::string& name) {
  return name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
         name == "LOCAL_PORT";
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string RegexEscape(const std::string& s) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, kSpecial, R"(\$&)");
}

// The answer of a status fault, per status (an unlisted 5xx uses kServerError).
struct StatusFaultAnswer {
  int status;
  const char* message;
  const char* type;   // OpenAI's error.type
  const char* param;  // OpenAI's error.param ("" = null)
  const char* code;   // OpenAI's error.code ("" = null)
};

constexpr StatusFaultAnswer kStatusFaults[] = {
    {400, "This model's maximum context length is 8192 tokens (mock fault 400).",
     "invalid_request_error", "messages", "context_length_exceeded"},
    {401, "Incorrect API key provided (mock fault 401).", "invalid_request_error", "",
     "invalid_api_key"},
    {403, "Permission denied (mock fault 403).", "invalid_request_error", "", "permission_denied"},
    {404, "The model does not exist (mock fault 404).", "invalid_request_error", "model",
     "model_not_found"},
    {503, "The engine is currently overloaded (mock fault 503).", "server_error", "", ""},
    {529, "Overloaded (mock fault 529).", "server_error", "", ""},
};

void SendStatusFault(const Fault& fault, ErrorStyle style, httplib::Response& res) {
  for (const StatusFaultAnswer& a : kStatusFaults) {
    if (a.status == fault.status) {
      return SendStyledError(res, style, a.status, a.message, a.type, a.param, a.code);
    }
  }
  SendStyledError(res, style, fault.status,
                  "The server had an error processing your request (mock fault " +
                      std::to_string(fault.status) + ").",
                  "server_error", "", "");
}

}  // namespace

void SendError(httplib::Response& res, int status, std::string_view message, std::string_view type,
               std::string_view param, std::string_view code) {
  res.status = status;
  res.set_content(ErrorBody(message, type, param, code), "application/json");
}

void SendStyledError(httplib::Response& res, ErrorStyle style, int status, std::string_view message,
                     std::string_view type, std::string_view param, std::string_view code) {
  if (style == ErrorStyle::kOpenAi) return SendError(res, status, message, type, param, code);
  res.status = status;
  res.set_content(AnthropicErrorBody(AnthropicErrorType(status), message), "application/json");
}

MockServer::MockServer(MockOptions options) : options_(std::move(options)) {
  const int threads = options_.threads;
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(kKeepAliveMaxCount);
  server_.set_keep_alive_timeout(kKeepAliveTimeoutSec);
  server_.set_write_timeout(kWriteTimeoutSec);
  server_.set_payload_max_length(kMaxBodyBytes);
  // Replaces httplib's default (SO_REUSEPORT, which lets a second mock share the port
  // silently) and remembers the listening fd to raise its backlog after bind.
  server_.set_socket_options([this](socket_t fd) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    listen_fd_ = fd;
  });
  RegisterRoutes();
  SetUpLogging();
}

StatusOr<int> MockServer::Bind() {
  errno = 0;
  if (!server_.bind_to_port(options_.host, options_.port)) {
    return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                       ": " + (errno ? std::strerror(errno) : "bind failed"));
  }
  // httplib listens with a backlog of 5: under connection churn that overflows and
  // costs SYN retransmits (a 1 s stall). Listening again only raises the backlog.
  ::listen(listen_fd_, kListenBacklog);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Internal("getsockname failed");
  }
  port_ = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(addr).sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in&>(addr).sin_port);
  return port_;
}

void MockServer::Run() { server_.listen_after_bind(); }

void MockServer::Stop() {
  if (stopping_.exchange(true)) return;
  server_.stop();
  // Workers idle in httplib's keep-alive wait do not look at stop(); a shutdown socket
  // reads as closed and ends their loop at once.
  ShutdownAcceptedConnections(port_);
}

void MockServer::RegisterRoutes() {
  RegisterApi("/v1");
  if (options_.prefix != "/v1") RegisterApi(options_.prefix);
  server_.Get("/mock/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats_.StatsJson(), "application/json");
  });
  server_.Get("/mock/last-request", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats_.LastRequestJson(), "application/json");
  });
  server_.Post("/mock/reset", [this](const httplib::Request&, httplib::Response& res) {
    stats_.Reset();
    res.set_content(stats_.StatsJson(), "application/json");
  });
  server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                    httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_ || res.status == kClientClosedStatus) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    std::string message = res.status == 404 ? "Unknown request URL: " + req.method + " " + req.path
                                            : "HTTP error " + std::to_string(res.status);
    SendError(res, res.status, message, "invalid_request_error", "",
              res.status == 404 ? "unknown_url" : "");
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        SendError(res, 500, "mock internal error", "server_error", "", "");
      });
}

void MockServer::RegisterApi(const std::string& prefix) {
  const std::string p = RegexEscape(prefix);
  server_.Post(p + "/chat/completions",
               [this](const httplib::Request& req, httplib::Response& res) {
                 HandleGeneration(Api::kChat, req, res);
               });
  server_.Post(p + "/completions", [this](const httplib::Request& req, httplib::Response& res) {
    HandleGeneration(Api::kCompletion, req, res);
  });
  server_.Post(p + "/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    HandleEmbeddings(req, res);
  });
  server_.Get(p + "/models", [this](const httplib::Request& req, httplib::Response& res) {
    HandleModels(req, res);
  });
  server_.Post(p + "/responses", [this](const httplib::Request& req, httplib::Response& res) {
    HandleResponses(req, res);
  });
  server_.Post(p + "/messages", [this](const httplib::Request& req, httplib::Response& res) {
    HandleMessages(req, res);
  });
  server_.Post(
      p + "/messages/count_tokens",
      [this](const httplib::Request& req, httplib::Response& res) { HandleCountTokens(req, res); });
}

void MockServer::SetUpLogging() {
  if (options_.quiet) return;
  server_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::string line;
    JsonWriter w(line);
    w.BeginObject().Field("ts", NowRfc3339()).Field("method", req.method);
    w.Field("path", req.path).Field("status", res.status);
    if (std::string fault = req.get_header_value("x-mock-fault"); !fault.empty()) {
      w.Field("fault", fault);
    }
    w.EndObject();
    WriteLine(2, line);
  });
}

bool MockServer::Begin(Endpoint endpoint, const httplib::Request& req, httplib::Response& res,
                       Call& call) {
  static constexpr Counter kEndpointCounter[] = {
      Counter::kChat,      Counter::kCompletions, Counter::kEmbeddings, Counter::kModels,
      Counter::kResponses, Counter::kMessages,    Counter::kCountTokens};
  stats_.Add(Counter::kRequests);
  stats_.Add(kEndpointCounter[static_cast<int>(endpoint)]);
  call.style = endpoint == Endpoint::kMessages || endpoint == Endpoint::kCountTokens
                   ? ErrorStyle::kAnthropic
                   : ErrorStyle::kOpenAi;
  Record(req);
  call.in_flight = std::make_shared<InFlightToken>(stats_);
  call.connection = std::make_shared<Connection>(req.local_port, req.remote_addr, req.remote_port);
  if (!Authorized(req)) {
    SendStyledError(
        res, call.style, 401,
        call.style == ErrorStyle::kAnthropic ? "invalid x-api-key" : "Incorrect API key provided.",
        "invalid_request_error", "", "invalid_api_key");
    return false;
  }
  auto plan =
      MakeRequestPlan(options_, [&req](const char* name) { return req.get_header_value(name); });
  if (!plan.ok()) {
    SendStyledError(res, call.style, 400, plan.status().message(), "invalid_request_error", "",
                    "invalid_mock_header");
    return false;
  }
  call.plan = std::move(*plan);
  const Fault& fault = call.plan.fault;
  int wait_ms = call.plan.latency_ms;
  if (fault.kind == FaultKind::kSlowFirstByte) wait_ms += fault.delay_ms;
  if (wait_ms > 0) {
    WaitResult r = call.connection->Wait(std::chrono::milliseconds(wait_ms), stopping_);
    if (r != WaitResult::kElapsed) {
      if (r == WaitResult::kPeerClosed) stats_.Add(Counter::kClientDisconnects);
      res.status = kClientClosedStatus;
      return false;
    }
  }
  if (!fault.ActsBeforeBody()) return true;
  stats_.CountFault(fault.spec);
  if (fault.kind == FaultKind::kSlowFirstByte) return true;
  ApplyEarlyFault(fault, call, res);
  return false;
}

void MockServer::ApplyEarlyFault(const Fault& fault, Call& call, httplib::Response& res) {
  switch (fault.kind) {
    case FaultKind::kStatus:
      return SendStatusFault(fault, call.style, res);
    case FaultKind::kRateLimit:
      SendStyledError(res, call.style, 429, "Rate limit reached for requests (mock fault 429).",
                      "requests", "", "rate_limit_exceeded");
      res.set_header("retry-after", std::to_string(fault.retry_after_s));
      return;
    case FaultKind::kRedirect:
      return res.set_redirect("http://127.0.0.1:9/elsewhere", 302);
    case FaultKind::kReset:
      call.connection->Reset();
      res.status = kClientClosedStatus;
      return;
    case FaultKind::kHang:
      if (call.connection->Wait(std::chrono::milliseconds(-1), stopping_) ==
          WaitResult::kPeerClosed) {
        stats_.Add(Counter::kClientDisconnects);
      }
      res.status = kClientClosedStatus;
      return;
    default:
      return;
  }
}

void MockServer::Record(const httplib::Request& req) {
  RecordedRequest r;
  r.method = req.method;
  r.path = req.target.empty() ? req.path : req.target;  // the target keeps the query
  // httplib's header map is ordered case-insensitively, so repeats of a name are
  // adjacent: join them as HTTP allows.
  for (const auto& [name, value] : req.headers) {
    if (IsInternalHeader(name)) continue;
    std::string lower = Lower(name);
    if (!r.headers.empty() && r.headers.back().first == lower) {
      r.headers.back().second += ", " + value;
    } else {
      r.headers.emplace_back(std::move(lower), value);
    }
  }
  r.body = req.body;
  stats_.RecordRequest(std::move(r));
}

bool MockServer::Authorized(const httplib::Request& req) const {
  if (options_.api_key.empty()) return true;
  return req.get_header_value("Authorization") == "Bearer " + options_.api_key ||
         req.get_header_value("api-key") == options_.api_key ||
         req.get_header_value("x-api-key") == options_.api_key;
}

}  // namespace signalbox::mock
