#include "upstream/upstream_call.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <ctime>

namespace signalbox {
namespace {

// Aborts a call in progress from the watchdog's thread (httplib's stop() is meant for
// that: it shuts the socket down under the client's socket mutex). Not inlined so that
// `make tsan` can name it: the mutex is locked inside the uninstrumented
// libcpp-httplib.so, so ThreadSanitizer sees only the unlock (tsan.supp).
[[gnu::noinline]] void StopFromWatchdog(httplib::Client* cli) { cli->stop(); }

using SteadyClock = std::chrono::steady_clock;

}  // namespace

std::optional<std::pair<std::string, std::string>> AuthHeader(const BackendConfig& b) {
  if (b.api_key.empty()) return std::nullopt;
  switch (b.auth) {
    case AuthMode::kBearer:
      return std::pair<std::string, std::string>("Authorization", "Bearer " + b.api_key);
    case AuthMode::kApiKey:
      return std::pair<std::string, std::string>("api-key", b.api_key);
    case AuthMode::kXApiKey:
      return std::pair<std::string, std::string>("x-api-key", b.api_key);
    case AuthMode::kNone:
      break;
  }
  return std::nullopt;
}

std::string_view CallErrorName(CallError e) {
  switch (e) {
    case CallError::kNone:
      return "none";
    case CallError::kConnect:
      return "connect_failed";
    case CallError::kTls:
      return "tls_failed";
    case CallError::kReset:
      return "connection_reset";
    case CallError::kFirstByteTimeout:
      return "first_byte_timeout";
    case CallError::kIdleTimeout:
      return "idle_timeout";
    case CallError::kTotalTimeout:
      return "total_timeout";
    case CallError::kClientGone:
      return "client_gone";
    case CallError::kShutdown:
      return "shutting_down";
    case CallError::kStopped:
      return "stopped";
  }
  return "unknown";
}

int ParseRetryAfter(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return 0;
  double secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec == std::errc() && p == v.data() + v.size()) {
    return secs <= 0 ? 0 : static_cast<int>(std::min(3600.0, secs + 0.999));
  }
  std::tm tm{};
  std::string s(v);
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) != nullptr) {
    time_t when = timegm(&tm);
    time_t now = std::time(nullptr);
    return when > now ? static_cast<int>(std::min<time_t>(3600, when - now)) : 0;
  }
  return 0;
}

CallResult CallUpstream(Watchdog& watchdog, const UpstreamRequest& req, BodyConsumer& consumer) {
  CallResult result;
  const BackendConfig& b = *req.backend;
  std::unique_ptr<httplib::Client> cli = req.pool->Acquire();
  auto start = Watchdog::Now();

  httplib::Request hr;
  hr.method = "POST";
  hr.path = req.path;
  hr.body = req.body;
  if (req.client_headers) {
    for (const auto& [k, v] : *req.client_headers) hr.headers.emplace(k, v);
  }
  hr.headers.emplace("Content-Type", "application/json");
  hr.headers.emplace("Accept", req.stream ? "text/event-stream" : "application/json");
  if (!req.request_id.empty()) hr.headers.emplace("X-Request-Id", req.request_id);
  if (auto auth = AuthHeader(b)) hr.headers.emplace(auth->first, auth->second);
  // A backend's configured headers replace a client header of the same name (the
  // multimap compares names case-insensitively), so the upstream sees one value.
  for (const auto& [k, v] : b.headers) hr.headers.erase(k);
  for (const auto& [k, v] : b.headers) hr.headers.emplace(k, v);

  std::atomic<bool> first_data{false};
  bool stopped_by_consumer = false;
  auto first_deadline = std::min(req.first_byte_deadline, req.deadline);
  auto watch = watchdog.Add(
      first_deadline, req.client_fd, [&cli](WatchReason) { StopFromWatchdog(cli.get()); },
      req.heartbeat, req.heartbeat_every, req.first_heartbeat);

  hr.response_handler = [&](const httplib::Response& r) {
    result.got_head = true;
    result.head.status = r.status;
    result.head.retry_after_s = ParseRetryAfter(r.get_header_value("Retry-After"));
    result.head.content_type = r.get_header_value("Content-Type");
    if (!consumer.OnHead(result.head)) {
      stopped_by_consumer = true;
      return false;
    }
    return true;
  };
  hr.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    auto now = Watchdog::Now();
    if (!first_data.exchange(true)) result.time_to_first_byte = now - start;
    watch->SetDeadline(std::min(req.deadline, now + req.idle));
    result.body_bytes += len;
    if (!consumer.OnData(std::string_view(data, len))) {
      stopped_by_consumer = true;
      return false;
    }
    return true;
  };

  httplib::Response hres;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli->send(hr, hres, err);
  WatchReason fired = watch->fired();
  watch.reset();  // deregister before looking at the outcome: fire can no longer run

  if (ok && fired == WatchReason::kNone) {
    // A body without content (e.g. 204) or fully received.
    if (!result.got_head) {
      result.got_head = true;
      result.head.status = hres.status;
    }
    req.pool->Release(std::move(cli), /*reusable=*/true);
    return result;
  }
  if (fired == WatchReason::kClientGone) {
    result.error = CallError::kClientGone;
  } else if (fired == WatchReason::kShutdown) {
    result.error = CallError::kShutdown;
  } else if (fired == WatchReason::kDeadline) {
    auto now = Watchdog::Now();
    if (now >= req.deadline)
      result.error = CallError::kTotalTimeout;
    else
      result.error = first_data ? CallError::kIdleTimeout : CallError::kFirstByteTimeout;
  } else if (stopped_by_consumer) {
    result.error = CallError::kStopped;
  } else {
    switch (err) {
      case httplib::Error::Connection:
      case httplib::Error::BindIPAddress:
        result.error = CallError::kConnect;
        break;
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        result.error = CallError::kTls;
        break;
      case httplib::Error::Read:
        // httplib's own per-read timeout also lands here; the watchdog normally fires first.
        result.error = result.got_head || first_data ? CallError::kReset
                       : (Watchdog::Now() - start >=
                          std::chrono::duration_cast<SteadyClock::duration>(req.idle))
                           ? CallError::kFirstByteTimeout
                           : CallError::kReset;
        break;
      default:
        result.error = CallError::kReset;
    }
  }
  // The connection state is unknown after a failure: do not reuse it.
  req.pool->Release(std::move(cli), /*reusable=*/false);
  return result;
}

}  // namespace signalbox
