#include "proxy/relay.h"

#include "common/json_writer.h"

namespace signalbox {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

bool IsEventStream(std::string_view ct) { return ct.substr(0, 17) == "text/event-stream"; }

}  // namespace

std::string FormatSseEvent(std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out += "data: ";
    out.append(
        data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
  return out;
}

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

SseRelay::SseRelay(Exchange& ex, std::vector<Header> headers, bool forward_usage,
                   std::function<void()> on_commit)
    : ex_(ex),
      headers_(std::move(headers)),
      forward_usage_(forward_usage),
      on_commit_(std::move(on_commit)),
      parser_([this](const SseEvent& e) { return OnEvent(e); }) {}

bool SseRelay::OnHead(const UpstreamHead& head) {
  head_ = head;
  ok_status_ = head.status >= 200 && head.status < 300;
  if (ok_status_ && !IsEventStream(head.content_type)) {
    not_sse_ = true;
    return false;  // a 200 that is not a stream: fail over before anything is sent
  }
  return true;
}

bool SseRelay::Write(std::string_view data) {
  if (!ex_.StreamWrite(data)) {
    client_gone_ = true;
    return false;
  }
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
  if (done_seen_) return true;  // nothing after [DONE] is relayed
  if (e.data == "[DONE]") {
    done_seen_ = true;
    return true;  // written by FinishOk() once the spend is settled
  }
  ChunkInfo info = InspectChunk(e.data);
  bool first = events_ == 0;
  ++events_;
  if (!info.parsed) {
    // Not JSON: never relayed. Before the commit the caller falls back; after it the
    // stream ends with an error event.
    malformed_event_ = true;
    return false;
  }
  if (info.usage) usage_ = info.usage;
  output_chars_ += info.output_chars;
  if (info.is_error) {
    // Before the commit the caller may fall back; after it the stream ends with the
    // gateway's own error event (one consistent code for every mid-stream failure).
    if (!ex_.committed())
      first_event_error_ = true;
    else
      error_event_ = true;
    error_body_.assign(e.data.substr(0, kMaxErrorBody));
    error_message_ = info.error_message;
    return false;
  }
  if (info.usage_only && !forward_usage_) return true;  // asked upstream for us, not for the client
  if (first) first_event_at_ = std::chrono::steady_clock::now();
  if (!ex_.committed() && !ex_.StreamBegin(200, headers_, "text/event-stream")) {
    client_gone_ = true;
    return false;
  }
  bool ok = Write(FormatSseEvent(e.event, e.data));
  if (ok && on_commit_) {
    on_commit_();
    on_commit_ = nullptr;
  }
  return ok;
}

void SseRelay::FinishOk() {
  if (client_gone_) {
    ex_.StreamAbort();
    return;
  }
  if (!ex_.committed() && !ex_.StreamBegin(200, headers_, "text/event-stream")) {
    ex_.StreamAbort();
    return;
  }
  if (done_seen_ && !Write("data: [DONE]\n\n")) {
    ex_.StreamAbort();
    return;
  }
  ex_.StreamEnd();
}

void SseRelay::FinishWithError(std::string_view message, std::string_view code) {
  if (client_gone_) {
    ex_.StreamAbort();
    return;
  }
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Key("error").BeginObject();
  w.Field("message", message).Field("type", "server_error").Key("param").Null().Field("code", code);
  w.EndObject().EndObject();
  if (!Write(FormatSseEvent("", body))) {
    ex_.StreamAbort();
    return;
  }
  ex_.StreamEnd();
}

}  // namespace signalbox
