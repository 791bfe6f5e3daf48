// One upstream attempt of a ProxyCall and its verdict: relay a plain answer or a stream,
// or say whether to retry the backend, move on to the next candidate, or stop.
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "common/log.h"
#include "openai/error.h"
#include "openai/response.h"
#include "proxy/proxy_call.h"
#include "proxy/relay.h"
#include "proxy/upstream_errors.h"

namespace signalbox {
namespace {

// A plain upstream answer larger than this is a failure, not something to relay.
constexpr size_t kMaxResponseBytes = 64u << 20;

}  // namespace

ProxyCall::Verdict ProxyCall::ClassifyCallError(const SnapshotBackend& b, CallError e, AttemptLog& log) {
  const std::string& name = b.cfg->name;
  log.outcome = std::string(CallErrorName(e));
  if (e == CallError::kShutdown) {
    // The gateway cut the call at the end of its drain: no verdict on the backend (a
    // probe is handed back), and no other candidate is tried.
    failures_.push_back({name, "the gateway is shutting down", "shutting_down", 503, 1});
    return Verdict::kNext;
  }
  Unhealthy(b);
  switch (e) {
    case CallError::kConnect:
      failures_.push_back({name, "could not connect", "connect_failed", 503, 0});
      return Verdict::kRetry;
    case CallError::kTls:
      failures_.push_back({name, "TLS handshake or certificate verification failed", "tls_failed", 502, 0});
      return Verdict::kNext;
    case CallError::kFirstByteTimeout:
      failures_.push_back({name, "no response within timeouts.first_byte", "timeout", 504, 0});
      return Verdict::kRetry;
    case CallError::kIdleTimeout:
      failures_.push_back({name, "the response stalled longer than timeouts.idle", "timeout", 504, 0});
      return Verdict::kRetry;
    case CallError::kTotalTimeout:
      failures_.push_back({name, "the request deadline passed", "timeout", 504, 0});
      return Verdict::kNext;
    default:
      failures_.push_back({name, "the connection was reset", "connection_reset", 502, 0});
      return Verdict::kRetry;
  }
}

ProxyCall::Verdict ProxyCall::ClassifyStatus(const SnapshotBackend& b, int status, int retry_after_s,
                                             std::string_view body, AttemptLog& log) {
  const std::string& name = b.cfg->name;
  log.status = status;
  if (status == 429) {
    log.outcome = "rate_limited";
    int ra = retry_after_s > 0 ? retry_after_s : 1;
    b.state->circuit.OnRateLimited(std::chrono::seconds(ra));
    failures_.push_back({name, fmt::format("rate limited (retry after {}s)", ra), "rate_limited", 429, ra});
    return Verdict::kNext;
  }
  if (status == 401 || status == 403) {
    log.outcome = "upstream_auth_error";
    Unhealthy(b);
    Log(LogLevel::kError, "backend rejected the gateway's credentials: check its api_key")
        .Field("backend", name).Field("status", status);
    failures_.push_back({name, fmt::format("rejected the gateway's credentials (HTTP {})", status),
                         "upstream_auth_error", 502, 0});
    return Verdict::kNext;
  }
  if (status >= 500 || status == 408) {
    log.outcome = "upstream_5xx";
    Unhealthy(b);
    failures_.push_back({name, fmt::format("upstream returned HTTP {}", status), "upstream_error",
                         status == 503 ? 503 : 502, retry_after_s});
    return Verdict::kRetry;
  }
  if (status >= 300 && status < 400) {
    log.outcome = "upstream_redirect";
    Unhealthy(b);
    failures_.push_back({name, fmt::format("upstream answered with a redirect (HTTP {}), not followed", status),
                         "upstream_error", 502, 0});
    return Verdict::kNext;
  }
  // Any other 4xx is about the request itself: relay it cleanly, no fallback.
  log.outcome = "client_error";
  Healthy(b);
  result_.backend = name;
  Settle();
  result_.status = status;
  result_.error = "upstream_client_error";
  in_.ex->Respond(status, ResponseHeaders(*b.cfg, true), "application/json",
                  SanitizedUpstreamError(status, body));
  return Verdict::kDone;
}

ProxyCall::Verdict ProxyCall::AttemptPlain(const SnapshotBackend& b, UpstreamRequest& ur, AttemptLog& log) {
  PlainCollector col(kMaxResponseBytes);
  CallResult r = CallUpstream(svc_.watchdog, ur, col);
  if (r.error == CallError::kClientGone) {
    log.outcome = "client_gone";
    Bill(log, *b.cfg, std::nullopt, 0, /*produced=*/true);  // the upstream had the prompt
    result_.status = 499;
    result_.error = "client_gone";
    Settle();
    return Verdict::kClientGone;
  }
  if (r.error == CallError::kStopped && col.too_large()) {
    log.outcome = "response_too_large";
    Unhealthy(b);
    failures_.push_back({b.cfg->name, "the response was larger than 64 MiB", "upstream_error", 502, 0});
    return Verdict::kNext;
  }
  if (r.error != CallError::kNone) return ClassifyCallError(b, r.error, log);
  int status = col.head().status;
  log.status = status;
  if (status != 200 && status >= 200 && status < 300) {
    // 206, 204 and friends are not a completion: something between us and the model
    // answered a different question.
    log.outcome = "unexpected_status";
    Unhealthy(b);
    failures_.push_back({b.cfg->name, fmt::format("upstream answered HTTP {} instead of 200", status),
                         "upstream_error", 502, 0});
    return Verdict::kNext;
  }
  if (status != 200) return ClassifyStatus(b, status, col.head().retry_after_s, col.body(), log);
  BodyInfo body = InspectBody(col.body(), in_.req->endpoint == Endpoint::kEmbeddings);
  if (!body.usable) {
    // A 200 that holds an error, half a JSON document or nothing: a failure to fail over
    // from, never an answer to hand to the client.
    log.outcome = "unusable_response";
    Unhealthy(b);
    failures_.push_back({b.cfg->name, "answered 200 without a usable result", "upstream_error", 502, 0});
    return Verdict::kRetry;
  }
  log.outcome = "ok";
  Healthy(b);
  Bill(log, *b.cfg, body.usage, body.output_chars, true);
  result_.backend = b.cfg->name;
  result_.status = status;
  Settle();  // the spend is durable before the client sees the body
  in_.ex->Respond(status, ResponseHeaders(*b.cfg, true), "application/json", col.body());
  return Verdict::kDone;
}

ProxyCall::Verdict ProxyCall::AttemptStream(const SnapshotBackend& b, UpstreamRequest& ur, AttemptLog& log) {
  // The backend proved healthy the moment its first event reached the client, however
  // long the stream then runs (a probe must not hold the circuit half-open for minutes).
  SseRelay relay(*in_.ex, ResponseHeaders(*b.cfg, false), in_.req->include_usage,
                 [this, &b] { Healthy(b); });
  Duration hb = in_.snap->config->server.sse_heartbeat;
  if (hb.count() > 0) {
    ur.heartbeat = [&relay, ex = in_.ex] {
      return ex->TryHeartbeat(200, relay.headers(), "text/event-stream", ": ping\n\n");
    };
    ur.heartbeat_every = hb;
    ur.first_heartbeat = in_.start + hb;
  }
  CallResult r = CallUpstream(svc_.watchdog, ur, relay);
  if (relay.first_event_at()) {
    result_.ttft_ms = std::chrono::duration<double, std::milli>(*relay.first_event_at() - in_.start).count();
  }
  // The client has the stream: no fallback from here, whatever happens.
  if (in_.ex->committed()) return FinishCommittedStream(b, relay, r, log);
  if (r.error == CallError::kClientGone || relay.client_gone()) {
    log.outcome = "client_gone";
    Bill(log, *b.cfg, std::nullopt, 0, /*produced=*/true);
    result_.status = 499;
    result_.error = "client_gone";
    Settle();
    return Verdict::kClientGone;
  }
  if (relay.not_sse()) {
    log.outcome = "not_a_stream";
    Unhealthy(b);
    failures_.push_back({b.cfg->name, "answered a streaming request without a stream", "upstream_error", 502, 0});
    return Verdict::kNext;
  }
  if (relay.first_event_error() || relay.malformed()) {
    log.outcome = relay.malformed() ? "malformed_event" : "error_event";
    Unhealthy(b);
    failures_.push_back({b.cfg->name, relay.malformed() ? "sent a malformed first event" : "sent an error event first",
                         "upstream_error", 502, 0});
    return Verdict::kRetry;
  }
  if (r.error != CallError::kNone && r.error != CallError::kStopped) return ClassifyCallError(b, r.error, log);
  int status = relay.head().status;
  log.status = status;
  if (status < 200 || status >= 300) {
    return ClassifyStatus(b, status, relay.head().retry_after_s, relay.error_body(), log);
  }
  log.outcome = "empty_stream";
  Unhealthy(b);
  failures_.push_back({b.cfg->name, "the stream ended before any event", "upstream_error", 502, 0});
  return Verdict::kRetry;
}

// Ends a stream the client already has (committed at its first event, or by a `: ping`
// heartbeat): [DONE] after a clean end, else one in-band error event. Committed by a
// heartbeat, the upstream may still have failed before its first event (an error status,
// a non-SSE body, an error first event, no events at all): that is an interrupted stream
// too, never a clean empty one.
ProxyCall::Verdict ProxyCall::FinishCommittedStream(const SnapshotBackend& b, SseRelay& relay,
                                                    const CallResult& r, AttemptLog& log) {
  const int status = relay.head().status;
  const bool streamed = status >= 200 && status < 300 && !relay.not_sse() && relay.events() > 0 &&
                        !relay.first_event_error();
  result_.backend = b.cfg->name;
  result_.status = 200;
  Bill(log, *b.cfg, relay.usage(), relay.output_chars(), /*produced=*/streamed);
  if (relay.client_gone() || r.error == CallError::kClientGone) {
    log.outcome = "client_gone";
    result_.error = "client_gone";
    Settle();
    in_.ex->StreamAbort();
    return Verdict::kClientGone;
  }
  bool clean = streamed &&
               (r.error == CallError::kNone || (r.error == CallError::kStopped && relay.done_seen())) &&
               !relay.malformed() && !relay.error_event();
  if (clean) {
    log.outcome = "ok";
    Healthy(b);
    Settle();
    relay.FinishOk();
    return Verdict::kDone;
  }
  if (r.error == CallError::kShutdown) {
    // Cut by the end of the drain period: the backend did nothing wrong.
    log.status = status;
    log.outcome = "shutting_down";
    result_.error = "shutting_down";
    Settle();
    relay.FinishWithError(fmt::format("The gateway is shutting down: the stream from backend '{}' was cut "
                                      "after {} events; the answer is incomplete. Retry the request.",
                                      b.cfg->name, relay.events()),
                          "shutting_down");
    return Verdict::kDone;
  }
  Unhealthy(b);
  log.status = status;
  std::string why = r.error != CallError::kNone && r.error != CallError::kStopped
                        ? std::string(CallErrorName(r.error))
                    : status != 0 && (status < 200 || status >= 300) ? fmt::format("HTTP {}", status)
                    : relay.not_sse()                                ? "not an event stream"
                    : relay.malformed()                              ? "sent a malformed event"
                    : relay.error_event() || relay.first_event_error() ? "sent an error event"
                    : relay.events() == 0                            ? "sent no events"
                                                                     : "ended without completing";
  if (relay.error_event()) {
    Log(LogLevel::kWarn, "upstream error event mid-stream").Field("request_id", in_.request_id)
        .Field("backend", b.cfg->name).Field("upstream_message", relay.error_message());
  }
  log.outcome = "stream_interrupted";
  result_.error = "upstream_stream_interrupted";
  Settle();
  relay.FinishWithError(fmt::format("The upstream stream from backend '{}' was interrupted ({}) after "
                                    "{} events; the answer is incomplete.", b.cfg->name, why, relay.events()),
                        "upstream_stream_interrupted");
  return Verdict::kDone;
}

}  // namespace signalbox
