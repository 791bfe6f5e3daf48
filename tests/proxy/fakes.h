// Fakes for testing the request path without sockets: an Exchange that records what the
// client would receive, and an UpstreamTransport that answers from a script.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/exchange.h"
#include "upstream/upstream_call.h"

namespace signalbox::testing {

// What the client of one request received.
class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(std::string path = "/v1/chat/completions") : path_(std::move(path)) {}

  std::string_view method() const override { return "POST"; }
  std::string_view path() const override { return path_; }
  std::optional<std::string_view> query_param(std::string_view) const override {
    return std::nullopt;
  }
  std::optional<std::string_view> header(std::string_view) const override { return std::nullopt; }
  void ForEachHeader(
      const std::function<void(std::string_view, std::string_view)>&) const override {}
  std::string_view body() const override { return body_; }
  std::string_view remote_addr() const override { return "127.0.0.1"; }

  void Respond(int status, const std::vector<Header>& headers, std::string_view content_type,
               std::string body) override {
    ++responses;
    if (on_final) on_final();
    this->status = status;
    this->headers = headers;
    this->content_type = std::string(content_type);
    out = std::move(body);
  }
  bool StreamBegin(int status, const std::vector<Header>& headers,
                   std::string_view content_type) override {
    committed_ = true;
    this->status = status;
    this->headers = headers;
    this->content_type = std::string(content_type);
    return !gone;
  }
  bool StreamWrite(std::string_view data) override {
    if (gone) return false;
    if (on_write) on_write(data);
    out.append(data);
    return true;
  }
  bool StreamEnd() override {
    if (on_final) on_final();
    ended = true;
    return !gone;
  }
  void StreamAbort() override { aborted = true; }
  bool committed() const override { return committed_; }
  bool ClientGone() const override { return gone; }
  int client_fd() const override { return -1; }
  bool TryHeartbeat(int, const std::vector<Header>&, std::string_view, std::string_view) override {
    return !gone;
  }

  std::optional<std::string> ResponseHeader(const std::string& name) const {
    for (const auto& h : headers) {
      if (h.name == name) return h.value;
    }
    return std::nullopt;
  }

  // What the client got.
  int status = 0;
  std::vector<signalbox::Header> headers;
  std::string content_type;
  std::string out;  // the response body, or every chunk of a stream
  int responses = 0;
  bool ended = false;    // a stream's clean chunked end
  bool aborted = false;  // a stream closed without its end
  bool gone = false;     // set: the client has hung up
  // Runs as the final answer goes out (Respond, or a stream's end): what the test wants to
  // know about the moment the client sees the end.
  std::function<void()> on_final;
  // Runs before each stream write reaches the client.
  std::function<void(std::string_view)> on_write;

 private:
  std::string path_;
  std::string body_;
  bool committed_ = false;
};

// One scripted upstream answer.
struct FakeAnswer {
  CallError error = CallError::kNone;  // a transport failure (after `chunks`, if any)
  int status = 200;                    // 0: no head at all
  std::string content_type = "application/json";
  int retry_after_s = 0;
  std::vector<std::string> chunks;  // the body, as it arrives
  std::function<void()> during;     // runs inside the call (e.g. moves a fake clock)

  static FakeAnswer Json(std::string body, int status = 200) {
    FakeAnswer a;
    a.status = status;
    a.chunks = {std::move(body)};
    return a;
  }
  static FakeAnswer Sse(std::vector<std::string> chunks) {
    FakeAnswer a;
    a.content_type = "text/event-stream";
    a.chunks = std::move(chunks);
    return a;
  }
  static FakeAnswer Fails(CallError e) {
    FakeAnswer a;
    a.error = e;
    a.status = 0;
    return a;
  }
};

// Answers each backend's calls from its queue, in order; a backend with an empty queue
// refuses the connection. Records every request.
class FakeTransport final : public UpstreamTransport {
 public:
  void Script(const std::string& backend, FakeAnswer a) {
    queues_[backend].push_back(std::move(a));
  }

  struct Seen {
    std::string backend;  // backends[].name
    std::string path;
    std::string body;
  };
  std::vector<Seen> seen;

  CallResult Call(const UpstreamRequest& req, BodyConsumer& consumer) override {
    seen.push_back({req.backend->name, req.path, req.body});
    CallResult r;
    auto& q = queues_[req.backend->name];
    if (q.empty()) {
      r.error = CallError::kConnect;
      return r;
    }
    FakeAnswer a = std::move(q.front());
    q.pop_front();
    if (a.during) a.during();
    if (a.status == 0) {
      r.error = a.error == CallError::kNone ? CallError::kReset : a.error;
      return r;
    }
    r.got_head = true;
    r.head.status = a.status;
    r.head.retry_after_s = a.retry_after_s;
    r.head.content_type = a.content_type;
    if (!consumer.OnHead(r.head)) {
      r.error = CallError::kStopped;
      return r;
    }
    for (const auto& c : a.chunks) {
      r.body_bytes += c.size();
      if (!consumer.OnData(c)) {
        r.error = CallError::kStopped;
        return r;
      }
    }
    r.error = a.error;
    return r;
  }

 private:
  std::map<std::string, std::deque<FakeAnswer>> queues_;
};

}  // namespace signalbox::testing
