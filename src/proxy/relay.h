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

#include "common/clock.h"
#include "openai/request.h"
#include "openai/response.h"
#include "openai/sse_parser.h"
#include "openai/stream_inspector.h"
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

// Relays an SSE response to the client as events arrive, in any of the three stream
// dialects (StreamInspector says what each event is; events are relayed unchanged).
//
// Before the first event nothing is sent, so the attempt can still fail over: an
// upstream error status, an error as the first event, a stream that ends without an
// event or a non-SSE body are all pre-commit failures. The first real event commits
// the response (status and headers go out) and is written at once; every later event
// follows as it arrives. The chat usage chunk is passed on only if the client asked for
// it. The dialect's terminal event (`data: [DONE]`, `message_stop`, `response.completed`)
// is held back: the caller settles the spend first, then FinishOk() writes it (so a crash
// can never leave a finished stream unbilled).
class SseRelay final : public BodyConsumer {
 public:
  // Why the relay stopped reading before the upstream ended, if it did.
  enum class Stop {
    kNone,        // it read to the end (or the call failed underneath it)
    kNotSse,      // a 2xx that is not text/event-stream
    kFirstError,  // the first event is an error
    kErrorEvent,  // an error event after the commit
    kMalformed,   // an event that is not a JSON object, or one over the size limit
    kClientGone,  // a write to the client failed
  };

  // `on_commit` runs once, when the first event has been sent to the client.
  SseRelay(const Clock& clock, Exchange& ex, Endpoint endpoint, std::vector<Header> headers,
           bool forward_usage, std::function<void()> on_commit = nullptr);

  bool OnHead(const UpstreamHead& head) override;
  bool OnData(std::string_view data) override;

  // After the call returned:
  Stop stop() const { return parser_.error() ? Stop::kMalformed : stop_; }
  bool committed() const { return ex_.committed(); }
  // The dialect's terminal event arrived: the answer is complete.
  bool terminal_seen() const { return !held_terminal_.empty(); }
  // An upstream stream that ended cleanly without its terminal event is complete for
  // chat (some servers omit [DONE]) but cut for Responses and Messages.
  bool requires_terminal() const { return inspector_.requires_terminal(); }
  // The upstream's error message (for logs).
  const std::string& error_message() const { return error_message_; }
  size_t events() const { return events_; }
  const UpstreamHead& head() const { return head_; }
  const std::string& error_body() const { return error_body_; }
  const std::optional<Usage>& usage() const { return inspector_.usage(); }
  const std::string& response_id() const { return inspector_.response_id(); }
  int64_t output_chars() const { return output_chars_; }
  std::optional<std::chrono::steady_clock::time_point> first_event_at() const {
    return first_event_at_;
  }
  const std::vector<Header>& headers() const { return headers_; }

  // Ends a committed stream: the held terminal event (if the upstream sent it) and the
  // chunked end.
  void FinishOk();
  // Ends a committed stream with the dialect's in-band error event and a clean chunked
  // end (no terminal event: an SDK raises on the error instead of returning a silently
  // cut answer).
  void FinishWithError(std::string_view message, std::string_view code);

 private:
  bool OnEvent(const SseEvent& e);
  bool Write(std::string_view data);
  bool Halt(Stop why);

  const Clock& clock_;
  Exchange& ex_;
  std::vector<Header> headers_;
  const bool forward_usage_;
  std::function<void()> on_commit_;
  StreamInspector inspector_;
  SseParser parser_;
  UpstreamHead head_;
  std::string error_body_;
  bool ok_status_ = false;
  Stop stop_ = Stop::kNone;
  std::string held_terminal_;  // the terminal event, written by FinishOk()
  std::string error_message_;
  size_t events_ = 0;
  int64_t output_chars_ = 0;
  std::optional<std::chrono::steady_clock::time_point> first_event_at_;
};

}  // namespace signalbox
