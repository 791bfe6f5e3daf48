#include "proxy/relay.h"

namespace signalbox {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

bool IsEventStream(std::string_view ct) { return ct.substr(0, 17) == "text/event-stream"; }

}  // namespace

bool PlainCollector::OnHead(const UpstreamHead& head) {
  head_ = head;
  return true;
}

bool PlainCollector::OnData(std::string_view data) {
  if (body_.size() + data.size() > max_bytes_) {
    too_large_ = true;
    return false;
  }
  body_.append(data);
  return true;
}

SseRelay::SseRelay(const Clock& clock, Exchange& ex, Endpoint endpoint, std::vector<Header> headers,
                   bool forward_usage, std::function<void()> on_commit)
    : clock_(clock),
      ex_(ex),
      headers_(std::move(headers)),
      forward_usage_(forward_usage),
      on_commit_(std::move(on_commit)),
      inspector_(endpoint),
      parser_([this](const SseEvent& e) { return OnEvent(e); }) {}

bool SseRelay::OnHead(const UpstreamHead& head) {
  head_ = head;
  ok_status_ = head.status >= 200 && head.status < 300;
  if (ok_status_ && !IsEventStream(head.content_type)) return Halt(Stop::kNotSse);
  return true;
}

bool SseRelay::Halt(Stop why) {
  stop_ = why;
  return false;
}

bool SseRelay::Write(std::string_view data) {
  if (!ex_.StreamWrite(data)) return Halt(Stop::kClientGone);
  return true;
}

bool SseRelay::OnData(std::string_view data) {
  if (!ok_status_) {
    if (error_body_.size() < kMaxErrorBody)
      error_body_.append(data.substr(0, kMaxErrorBody - error_body_.size()));
    return true;
  }
  return parser_.Feed(data);
}

bool SseRelay::OnEvent(const SseEvent& e) {
  if (!held_terminal_.empty()) return true;  // nothing after the terminal event is relayed
  EventInfo info = inspector_.Inspect(e);
  if (info.kind == EventInfo::Kind::kTerminal) {
    held_terminal_ = FormatSseEvent(e.event, e.data);  // written by FinishOk() after settling
    return true;
  }
  bool first = events_ == 0;
  ++events_;
  output_chars_ += info.output_chars;
  switch (info.kind) {
    case EventInfo::Kind::kMalformed:
      // Never relayed. Before the commit the caller falls back; after it the stream ends
      // with an error event.
      return Halt(Stop::kMalformed);
    case EventInfo::Kind::kError:
      // Before the commit the caller may fall back; after it the stream ends with the
      // gateway's own error event (one consistent code for every mid-stream failure).
      error_body_.assign(e.data.substr(0, kMaxErrorBody));
      error_message_ = std::move(info.error_message);
      return Halt(ex_.committed() ? Stop::kErrorEvent : Stop::kFirstError);
    case EventInfo::Kind::kUsageOnly:
      if (!forward_usage_) return true;  // asked upstream for us, not for the client
      break;
    default:
      break;
  }
  if (first) first_event_at_ = clock_.Now();
  if (!ex_.committed() && !ex_.StreamBegin(200, headers_, "text/event-stream"))
    return Halt(Stop::kClientGone);
  bool ok = Write(FormatSseEvent(e.event, e.data));
  if (ok && on_commit_) {
    on_commit_();
    on_commit_ = nullptr;
  }
  return ok;
}

void SseRelay::FinishOk() {
  if (stop_ == Stop::kClientGone) {
    ex_.StreamAbort();
    return;
  }
  if (!ex_.committed() && !ex_.StreamBegin(200, headers_, "text/event-stream")) {
    ex_.StreamAbort();
    return;
  }
  if (!held_terminal_.empty() && !Write(held_terminal_)) {
    ex_.StreamAbort();
    return;
  }
  ex_.StreamEnd();
}

void SseRelay::FinishWithError(std::string_view message, std::string_view code) {
  if (stop_ == Stop::kClientGone || !Write(inspector_.ErrorEvent(message, code))) {
    ex_.StreamAbort();
    return;
  }
  ex_.StreamEnd();
}

}  // namespace signalbox
