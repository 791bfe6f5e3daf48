// UpstreamCall: one HTTP exchange with one backend, body delivered as it arrives.
//
// One-per-attempt, run on the request's thread. httplib gives a per-read timeout and
// nothing else, so the call registers with the Watchdog for the deadlines that matter:
// time to first byte, the idle gap between chunks, the attempt's total, and the
// client's hang-up; when one fires the watchdog stops the httplib client, whose blocking
// read then returns at once. No lock is held across network I/O.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "upstream/client_pool.h"
#include "upstream/watchdog.h"

namespace signalbox {

struct UpstreamRequest {
  const BackendConfig* backend = nullptr;
  ClientPool* pool = nullptr;
  std::string path;  // base path + endpoint, e.g. /v1/chat/completions
  std::string body;
  bool stream = false;
  std::string request_id;
  // Client headers passed through (already filtered: no credentials, no hop-by-hop).
  const std::vector<std::pair<std::string, std::string>>* client_headers = nullptr;
  Watchdog::TimePoint first_byte_deadline;
  Watchdog::TimePoint deadline;  // the attempt's total
  std::chrono::milliseconds idle{60'000};
  int client_fd = -1;
  // Optional heartbeat while waiting (sse_heartbeat): runs on the watchdog thread.
  std::function<bool()> heartbeat;
  std::chrono::milliseconds heartbeat_every{0};
  Watchdog::TimePoint first_heartbeat{};
};

enum class CallError {
  kNone = 0,
  kConnect,           // could not connect (refused, unreachable, connect timeout, DNS)
  kTls,               // TLS handshake or certificate verification failed
  kReset,             // the connection broke (reset, EOF mid-response, write failure)
  kFirstByteTimeout,  // no first byte within timeouts.first_byte
  kIdleTimeout,       // no data for timeouts.idle
  kTotalTimeout,      // the attempt's or the request's total deadline passed
  kClientGone,        // the client hung up; the call was cancelled
  kShutdown,  // the drain period ended: the gateway cancelled the call (not a backend failure)
  kStopped,   // the consumer stopped reading (its own decision)
};
std::string_view CallErrorName(CallError e);

struct UpstreamHead {
  int status = 0;
  int retry_after_s = 0;  // parsed retry-after (seconds), 0 if none
  std::string content_type;
};

// Receives the response. Returning false stops the call (CallError::kStopped).
class BodyConsumer {
 public:
  virtual ~BodyConsumer() = default;
  virtual bool OnHead(const UpstreamHead& head) = 0;
  virtual bool OnData(std::string_view data) = 0;
};

struct CallResult {
  CallError error = CallError::kNone;
  bool got_head = false;
  UpstreamHead head;
  uint64_t body_bytes = 0;
  std::chrono::steady_clock::duration time_to_first_byte{};
};

CallResult CallUpstream(Watchdog& watchdog, const UpstreamRequest& req, BodyConsumer& consumer);

// The network as the request path sees it: one exchange with one backend. Injected into
// ProxyCall so its fallback, retry and relay logic can be tested with a scripted fake
// (tests/proxy/fake_transport.h) and no sockets. Thread-safe: many requests call it at
// once.
class UpstreamTransport {
 public:
  virtual ~UpstreamTransport() = default;
  virtual CallResult Call(const UpstreamRequest& req, BodyConsumer& consumer) = 0;
};

// The real one: HTTP(S) through req.pool's clients, deadlines kept by the watchdog.
class HttpTransport final : public UpstreamTransport {
 public:
  explicit HttpTransport(Watchdog& watchdog) : watchdog_(watchdog) {}
  CallResult Call(const UpstreamRequest& req, BodyConsumer& consumer) override {
    return CallUpstream(watchdog_, req, consumer);
  }

 private:
  Watchdog& watchdog_;
};

// The header that authenticates the gateway to backend `b` (backends[].auth), if any.
std::optional<std::pair<std::string, std::string>> AuthHeader(const BackendConfig& b);

// Parses a Retry-After value (seconds or an HTTP date); 0 when absent or unparsable.
int ParseRetryAfter(std::string_view v);

}  // namespace signalbox
