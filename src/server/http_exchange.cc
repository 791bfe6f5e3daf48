#include "server/http_exchange.h"

#include <fmt/format.h>

namespace signalbox::server_internal {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400 ? "OK" : "Error";
  }
}

std::string Chunk(std::string_view data) {
  std::string out = fmt::format("{:x}\r\n", data.size());
  out.append(data);
  out += "\r\n";
  return out;
}

}  // namespace

std::optional<std::string_view> HttplibExchange::header(std::string_view name) const {
  auto it = req_.headers.find(std::string(name));
  if (it == req_.headers.end()) return std::nullopt;
  return std::string_view(it->second);
}

void HttplibExchange::ForEachHeader(
    const std::function<void(std::string_view, std::string_view)>& fn) const {
  for (const auto& [k, v] : req_.headers) fn(k, v);
}

void HttplibExchange::Respond(int status, const std::vector<Header>& headers,
                              std::string_view content_type, std::string body) {
  res_.status = status;
  for (const auto& h : headers) res_.set_header(h.name, h.value);
  res_.set_content(std::move(body), std::string(content_type));
}

std::string HttplibExchange::Head(int status, const std::vector<Header>& headers,
                                  std::string_view content_type) const {
  std::string head =
      fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\n", status, Reason(status), content_type);
  head += "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n";
  head += close_after_ ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
  for (const auto& h : headers) {
    head += h.name;
    head += ": ";
    head += h.value;
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

bool HttplibExchange::FlushPending() {
  if (pending_.empty()) return true;
  bool ok = conn_.WriteDirect(pending_);
  pending_.clear();
  return ok;
}

bool HttplibExchange::StreamBegin(int status, const std::vector<Header>& headers,
                                  std::string_view content_type) {
  std::lock_guard<std::mutex> lk(mu_);
  if (committed_) return FlushPending() && !conn_.broken();
  committed_ = true;
  // httplib writes its own response after the handler returns; drop it.
  conn_.set_swallow_writes(true);
  res_.status = status;
  if (!conn_.WriteDirect(Head(status, headers, content_type))) {
    must_close_ = true;
    return false;
  }
  return true;
}

bool HttplibExchange::StreamWrite(std::string_view data) {
  if (data.empty()) return true;
  std::lock_guard<std::mutex> lk(mu_);
  if (!FlushPending() || !conn_.WriteDirect(Chunk(data))) {
    must_close_ = true;
    return false;
  }
  return true;
}

bool HttplibExchange::StreamEnd() {
  std::lock_guard<std::mutex> lk(mu_);
  if (ended_) return true;
  ended_ = true;
  if (!FlushPending() || !conn_.WriteDirect("0\r\n\r\n")) {
    must_close_ = true;
    return false;
  }
  if (close_after_) must_close_ = true;
  return true;
}

void HttplibExchange::StreamAbort() {
  std::lock_guard<std::mutex> lk(mu_);
  ended_ = true;
  must_close_ = true;
}

bool HttplibExchange::TryHeartbeat(int status, const std::vector<Header>& headers,
                                   std::string_view content_type, std::string_view data) {
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) return !conn_.broken();  // the request thread is writing: no ping needed
  if (ended_) return false;
  std::string out;
  if (!committed_) {
    committed_ = true;
    conn_.set_swallow_writes(true);
    res_.status = status;
    out = Head(status, headers, content_type);
  }
  out += Chunk(data);
  if (!pending_.empty()) {
    pending_ += out;  // keep order; the request thread flushes it
    return !conn_.broken();
  }
  ssize_t n = conn_.TryWriteNonBlocking(out);
  if (n < 0) {
    must_close_ = true;
    return false;
  }
  if (static_cast<size_t>(n) < out.size()) pending_.assign(out, static_cast<size_t>(n));
  return true;
}

bool ReadBody(ConnStream& conn, size_t len, std::string* out) {
  out->resize(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = conn.read(out->data() + got, len - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace signalbox::server_internal
