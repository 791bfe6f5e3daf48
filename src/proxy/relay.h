// Response consumers of one upstream attempt: PlainCollector buffers a JSON response;
// SseRelay relays a stream event by event to the client.
//
// One-per-attempt, used on the request's thread (SseRelay's heartbeat path goes through
// Exchange::TryHeartbeat, which is safe from the watchdog thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "openai/response.h"
#include "openai/sse_parser.h"
#include "server/exchange.h"
#include "upstream/upstream_call.h"

namespace signalbox {

// Collects a non-streaming response (bounded).
class PlainCollector final : public BodyConsumer {
 public:
  explicit PlainCollector(size_t max_bytes) : max_bytes_(max_bytes) {}
  bool OnHead(const UpstreamHead& head) override;
  bool OnData(std::string_view data) override;

  const UpstreamHead& head() const { return head_; }
  const std::string& body() const { return body_; }
  bool too_large() const { return too_large_; }

 private:
  size_t max_bytes_;
  UpstreamHead head_;
  std::string body_;
  bool too_large_ = false;
};

// Relays an SSE response to the client as events arrive.
//
// Before the first event nothing is sent, so the attempt can still fail over: an
// upstream error status, an error object as the first event, a stream that ends without
// an event or a non-SSE body are all pre-commit failures. The first real event commits
// the response (status and headers go out) and is written at once; every later event
// follows as it arrives. The usage chunk is passed on only if the client asked for it.
// `data: [DONE]` is held back: the caller settles the spend first, then calls
// FinishOk() which writes it (so a crash can never leave a finished stream unbilled).
class SseRelay final : public BodyConsumer {
 public:
  // `on_commit` runs once, when the first event has been sent to the client.
  SseRelay(Exchange& ex, std::vector<Header> headers, bool forward_usage,
           std::function<void()> on_commit = nullptr);

  bool OnHead(const UpstreamHead& head) override;
  bool OnData(std::string_view data) override;

  // After the call returned:
  bool committed() const { return ex_.committed(); }
  bool done_seen() const { return done_seen_; }
  bool first_event_error() const { return first_event_error_; }
  // An error event after the commit, and the upstream's message (for logs).
  bool error_event() const { return error_event_; }
  const std::string& error_message() const { return error_message_; }
  bool malformed() const { return parser_.error() || malformed_event_; }
  bool client_gone() const { return client_gone_; }
  bool not_sse() const { return not_sse_; }
  size_t events() const { return events_; }
  const UpstreamHead& head() const { return head_; }
  const std::string& error_body() const { return error_body_; }
  const std::optional<Usage>& usage() const { return usage_; }
  int64_t output_chars() const { return output_chars_; }
  std::optional<std::chrono::steady_clock::time_point> first_event_at() const {
    return first_event_at_;
  }
  const std::vector<Header>& headers() const { return headers_; }

  // Ends a committed stream: `data: [DONE]` (if the upstream sent it) and the chunked end.
  void FinishOk();
  // Ends a committed stream with an in-band error event and a clean chunked end (no
  // [DONE]: an SDK raises on the error instead of returning a silently cut answer).
  void FinishWithError(std::string_view message, std::string_view code);

 private:
  bool OnEvent(const SseEvent& e);
  bool Write(std::string_view data);

  Exchange& ex_;
  std::vector<Header> headers_;
  const bool forward_usage_;
  std::function<void()> on_commit_;
  SseParser parser_;
  UpstreamHead head_;
  std::string error_body_;
  bool ok_status_ = false;
  bool not_sse_ = false;
  bool done_seen_ = false;
  bool first_event_error_ = false;
  bool malformed_event_ = false;
  bool error_event_ = false;
  std::string error_message_;
  bool client_gone_ = false;
  size_t events_ = 0;
  std::optional<Usage> usage_;
  int64_t output_chars_ = 0;
  std::optional<std::chrono::steady_clock::time_point> first_event_at_;
};

// The SSE text of one event (data split into lines, no id: lines).
std::string FormatSseEvent(std::string_view event, std::string_view data);

}  // namespace signalbox
