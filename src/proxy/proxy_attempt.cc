// One upstream attempt of a ProxyCall and its verdict: relay a plain answer or a stream,
// or say whether to retry the backend, move on to the next candidate, or stop.
#include <fmt/format.h>

#include <chrono>
#include <string>

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

// What a backend did, for the all-failed message (no URL, host or port).
std::string FailureText(Outcome o, int status, int retry_after_s) {
  switch (o) {
    case Outcome::kConnectFailed:
      return "could not connect";
    case Outcome::kTlsFailed:
      return "TLS handshake or certificate verification failed";
    case Outcome::kFirstByteTimeout:
      return "no response within timeouts.first_byte";
    case Outcome::kIdleTimeout:
      return "the response stalled longer than timeouts.idle";
    case Outcome::kTotalTimeout:
      return "the request deadline passed";
    case Outcome::kShutdown:
      return "the gateway is shutting down";
    case Outcome::kRateLimited:
      return fmt::format("rate limited (retry after {}s)", retry_after_s);
    case Outcome::kUpstreamAuth:
      return fmt::format("rejected the gateway's credentials (HTTP {})", status);
    case Outcome::kUpstream5xx:
    case Outcome::kUpstream503:
      return fmt::format("upstream returned HTTP {}", status);
    case Outcome::kRedirect:
      return fmt::format("upstream answered with a redirect (HTTP {}), not followed", status);
    case Outcome::kUnexpected2xx:
      return fmt::format("upstream answered HTTP {} instead of 200", status);
    case Outcome::kUnusableBody:
      return "answered 200 without a usable result";
    case Outcome::kTooLarge:
      return "the response was larger than 64 MiB";
    case Outcome::kNotSse:
      return "answered a streaming request without a stream";
    case Outcome::kBadFirstEvent:
      return "sent an error or malformed first event";
    case Outcome::kEmptyStream:
      return "the stream ended before any event";
    default:
      return "the connection was reset";
  }
}

}  // namespace

void ProxyCall::ApplyCircuitVerdict(CircuitVerdict v, int retry_after_s) {
  switch (v) {
    case CircuitVerdict::kSuccess:
      Healthy();
      break;
    case CircuitVerdict::kFailure:
      Unhealthy();
      break;
    case CircuitVerdict::kRateLimited:
      dep_->state->circuit.OnRateLimited(
          std::chrono::seconds(retry_after_s > 0 ? retry_after_s : 1));
      break;
    case CircuitVerdict::kNone:
      break;  // a probe is handed back by Run()
  }
}

ProxyCall::Verdict ProxyCall::Conclude(const SnapshotBackend& b, Outcome o,
                                       const UpstreamHead& head, std::string_view body,
                                       AttemptLog& log) {
  const std::string& name = b.cfg->name;
  const OutcomeRule rule = RuleFor(o);
  log.outcome = std::string(OutcomeName(o));
  ApplyCircuitVerdict(rule.circuit, head.retry_after_s);
  if (o == Outcome::kOk) return Verdict::kDone;
  if (o == Outcome::kClientError) {
    // About the request itself: relayed cleanly (message URL-scrubbed), no fallback.
    result_.backend = name;
    Finish(Final::Respond(head.status, rule.code, ResponseHeaders(*b.cfg, true),
                          SanitizedUpstreamError(head.status, body, ShapeOf(in_.req->endpoint))));
    return Verdict::kDone;
  }
  if (o == Outcome::kUpstreamAuth) {
    Log(LogLevel::kError, "backend rejected the gateway's credentials: check its api_key")
        .Field("backend", name)
        .Field("deployment", dep_->name())
        .Field("status", head.status);
  }
  int retry_after =
      o == Outcome::kRateLimited ? std::max(1, head.retry_after_s) : head.retry_after_s;
  Fail(Target(b), FailureText(o, head.status, retry_after), *rule.code, retry_after, rule.status);
  switch (rule.next) {
    case NextStep::kRetry:
      return Verdict::kRetry;
    case NextStep::kStop:
      return Verdict::kStop;
    default:
      return Verdict::kNext;
  }
}

namespace {

// A plain attempt's outcome, before anything is sent to the client. *body is filled for a
// 200 (its usage and output size bill the attempt).
Outcome PlainOutcome(const CallResult& r, const PlainCollector& col, Endpoint endpoint,
                     BodyInfo* body) {
  if (r.error == CallError::kStopped && col.too_large()) return Outcome::kTooLarge;
  if (r.error != CallError::kNone) return OutcomeOf(r.error);
  Outcome o = OutcomeOfStatus(col.head().status);
  if (o != Outcome::kOk) return o;
  // A 200 that holds an error, half a JSON document or nothing is a failure to fail over
  // from, never an answer to hand to the client.
  *body = InspectBodyFor(endpoint, col.body());
  return body->usable ? Outcome::kOk : Outcome::kUnusableBody;
}

// A stream attempt's outcome when nothing was committed to the client.
Outcome UncommittedStreamOutcome(const CallResult& r, const SseRelay& relay) {
  using Stop = SseRelay::Stop;
  if (r.error == CallError::kClientGone || relay.stop() == Stop::kClientGone)
    return Outcome::kClientGone;
  if (relay.stop() == Stop::kNotSse) return Outcome::kNotSse;
  if (relay.stop() == Stop::kFirstError || relay.stop() == Stop::kMalformed)
    return Outcome::kBadFirstEvent;
  if (r.error != CallError::kNone && r.error != CallError::kStopped) return OutcomeOf(r.error);
  int status = relay.head().status;
  if (status < 200 || status >= 300) return OutcomeOfStatus(status);
  return Outcome::kEmptyStream;
}

}  // namespace

ProxyCall::Verdict ProxyCall::ClientGone(const SnapshotBackend& b, AttemptLog& log) {
  log.outcome = std::string(OutcomeName(Outcome::kClientGone));
  Bill(log, *b.cfg, std::nullopt, 0, /*produced=*/true);  // the upstream had the prompt
  const OutcomeRule rule = RuleFor(Outcome::kClientGone);
  Finish(Final::Nothing(rule.status, rule.code));
  return Verdict::kClientGone;
}

ProxyCall::Verdict ProxyCall::AttemptPlain(const SnapshotBackend& b, UpstreamRequest& ur,
                                           AttemptLog& log) {
  PlainCollector col(kMaxResponseBytes);
  CallResult r = svc_.transport.Call(ur, col);
  BodyInfo body;
  Outcome o = PlainOutcome(r, col, in_.req->endpoint, &body);
  log.status = col.head().status;
  if (o == Outcome::kClientGone) return ClientGone(b, log);
  if (o != Outcome::kOk) return Conclude(b, o, col.head(), col.body(), log);
  Conclude(b, o, col.head(), "", log);
  Bill(log, *b.cfg, body.usage, body.output_chars, true);
  RememberResponse(body.response_id, *b.cfg);
  result_.backend = b.cfg->name;
  Finish(
      Final::Respond(col.head().status, std::nullopt, ResponseHeaders(*b.cfg, true), col.body()));
  return Verdict::kDone;
}

ProxyCall::Verdict ProxyCall::AttemptStream(const SnapshotBackend& b, UpstreamRequest& ur,
                                            AttemptLog& log) {
  // The backend proved healthy the moment its first event reached the client, however
  // long the stream then runs (a probe must not hold the circuit half-open for minutes).
  SseRelay relay(svc_.clock, *in_.ex, in_.req->endpoint, ResponseHeaders(*b.cfg, false),
                 in_.req->include_usage, [this] { Healthy(); });
  Duration hb = in_.snap->config->server.sse_heartbeat;
  if (hb.count() > 0) {
    ur.heartbeat = [&relay, ex = in_.ex] {
      return ex->TryHeartbeat(200, relay.headers(), "text/event-stream", ": ping\n\n");
    };
    ur.heartbeat_every = hb;
    ur.first_heartbeat = in_.start + hb;
  }
  CallResult r = svc_.transport.Call(ur, relay);
  if (relay.first_event_at()) {
    result_.ttft_ms =
        std::chrono::duration<double, std::milli>(*relay.first_event_at() - in_.start).count();
  }
  // The client has the stream: no fallback from here, whatever happens.
  if (in_.ex->committed()) return FinishCommittedStream(b, relay, r, log);
  Outcome o = UncommittedStreamOutcome(r, relay);
  log.status = relay.head().status;
  if (o == Outcome::kClientGone) return ClientGone(b, log);
  return Conclude(b, o, relay.head(), relay.error_body(), log);
}

// Ends a stream the client already has (committed at its first event, or by a `: ping`
// heartbeat): [DONE] after a clean end, else one in-band error event. Committed by a
// heartbeat, the upstream may still have failed before its first event (an error status,
// a non-SSE body, an error first event, no events at all): that is an interrupted stream
// too, never a clean empty one. docs/resilience.md, "After the commit point".
ProxyCall::Verdict ProxyCall::FinishCommittedStream(const SnapshotBackend& b, SseRelay& relay,
                                                    const CallResult& r, AttemptLog& log) {
  using Stop = SseRelay::Stop;
  const int status = relay.head().status;
  const Stop stop = relay.stop();
  const bool streamed = status >= 200 && status < 300 && stop != Stop::kNotSse &&
                        relay.events() > 0 && stop != Stop::kFirstError;
  // Clean: the upstream ended (or sent its terminal event and was stopped), with no
  // broken or error event; Responses and Messages must have sent their terminal event.
  const bool ended =
      r.error == CallError::kNone || (r.error == CallError::kStopped && relay.terminal_seen());
  const bool clean = streamed && ended && stop == Stop::kNone &&
                     (relay.terminal_seen() || !relay.requires_terminal());
  const Outcome o = stop == Stop::kClientGone || r.error == CallError::kClientGone
                        ? Outcome::kClientGone
                    : clean                           ? Outcome::kOk
                    : r.error == CallError::kShutdown ? Outcome::kShutdown
                                                      : Outcome::kStreamInterrupted;
  const OutcomeRule rule = RuleFor(o);
  result_.backend = b.cfg->name;
  log.status = status;
  log.outcome = std::string(OutcomeName(o));
  Bill(log, *b.cfg, relay.usage(), relay.output_chars(), /*produced=*/streamed,
       /*complete=*/o == Outcome::kOk);
  if (streamed) RememberResponse(relay.response_id(), *b.cfg);
  ApplyCircuitVerdict(rule.circuit, 0);
  // The client keeps its 200 however the stream ends.
  switch (o) {
    case Outcome::kClientGone:
      Finish(Final::Stream(Final::Kind::kStreamAbort, rule.code), &relay);
      return Verdict::kClientGone;
    case Outcome::kOk:
      Finish(Final::Stream(Final::Kind::kStreamOk), &relay);
      return Verdict::kDone;
    case Outcome::kShutdown:
      Finish(Final::Stream(
                 Final::Kind::kStreamError, rule.code,
                 fmt::format("The gateway is shutting down: the stream from backend '{}' was cut "
                             "after {} events; the answer is incomplete. Retry the request.",
                             b.cfg->name, relay.events())),
             &relay);
      return Verdict::kDone;
    default:
      break;
  }
  std::string why = r.error != CallError::kNone && r.error != CallError::kStopped
                        ? std::string(CallErrorName(r.error))
                    : status != 0 && (status < 200 || status >= 300)
                        ? fmt::format("HTTP {}", status)
                    : stop == Stop::kNotSse    ? "not an event stream"
                    : stop == Stop::kMalformed ? "sent a malformed event"
                    : stop == Stop::kErrorEvent || stop == Stop::kFirstError ? "sent an error event"
                    : relay.events() == 0                                    ? "sent no events"
                                          : "ended without completing";
  if (stop == Stop::kErrorEvent) {
    Log(LogLevel::kWarn, "upstream error event mid-stream")
        .Field("request_id", in_.request_id)
        .Field("backend", b.cfg->name)
        .Field("upstream_message", relay.error_message());
  }
  Finish(
      Final::Stream(Final::Kind::kStreamError, rule.code,
                    fmt::format("The upstream stream from backend '{}' was interrupted ({}) after "
                                "{} events; the answer is incomplete.",
                                b.cfg->name, why, relay.events())),
      &relay);
  return Verdict::kDone;
}

}  // namespace signalbox
