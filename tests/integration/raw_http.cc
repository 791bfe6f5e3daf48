#include "integration/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace signalbox::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Parses a chunked body starting at `pos` of `buf`. Returns the end offset of the whole
// body (after the last chunk and trailers) once complete, else nullopt.
std::optional<size_t> ParseChunked(const std::string& buf, size_t pos, std::string* body) {
  body->clear();
  for (;;) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string::npos) return std::nullopt;
    std::string size_line = buf.substr(pos, eol - pos);
    size_t semi = size_line.find(';');
    if (semi != std::string::npos) size_line.resize(semi);
    char* end = nullptr;
    unsigned long long n = std::strtoull(size_line.c_str(), &end, 16);
    pos = eol + 2;
    if (n == 0) {
      // Trailers, then an empty line.
      for (;;) {
        size_t t = buf.find("\r\n", pos);
        if (t == std::string::npos) return std::nullopt;
        bool empty = t == pos;
        pos = t + 2;
        if (empty) return pos;
      }
    }
    if (buf.size() < pos + n + 2) return std::nullopt;
    body->append(buf, pos, n);
    pos += n + 2;
  }
}

}  // namespace

std::optional<std::string> RawResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

size_t RawResponse::HeaderCount(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                           [&](const auto& h) { return IEquals(h.first, name); }));
}

std::string RawResponse::Describe(size_t body_chars) const {
  std::string out = status_line + "\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\n";
  out += "\n" + body.substr(0, body_chars);
  if (body.size() > body_chars) out += "...";
  return out;
}

StatusOr<RawConnection> RawConnection::Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Unavailable("connect to 127.0.0.1:" + std::to_string(port) + ": " + err);
  }
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  return RawConnection(fd);
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(other.fd_), closed_(other.closed_), buf_(std::move(other.buf_)) {
  other.fd_ = -1;
}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    closed_ = other.closed_;
    buf_ = std::move(other.buf_);
    other.fd_ = -1;
  }
  return *this;
}

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::Send(std::string_view bytes, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int left = MillisLeft(deadline);
      if (left == 0 || ::poll(&p, 1, left) <= 0) return false;
      if (p.revents & (POLLERR | POLLHUP)) return false;
      continue;
    }
    return false;  // EPIPE, ECONNRESET: the server is gone
  }
  return true;
}

void RawConnection::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool RawConnection::Fill(Clock::time_point deadline) {
  if (closed_) return false;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;  // timeout
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {  // EOF or reset
      closed_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

size_t RawConnection::ParseHead(RawResponse* res) const {
  size_t head_end = buf_.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::string::npos;
  size_t line_end = buf_.find("\r\n");
  res->status_line = buf_.substr(0, line_end);
  if (size_t sp = res->status_line.find(' '); sp != std::string::npos) {
    res->status = std::atoi(res->status_line.c_str() + sp + 1);
  }
  for (size_t pos = line_end + 2; pos < head_end;) {
    size_t eol = buf_.find("\r\n", pos);
    std::string_view line(buf_.data() + pos, eol - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      res->headers.emplace_back(std::string(line.substr(0, colon)),
                                std::string(Trim(line.substr(colon + 1))));
    }
    pos = eol + 2;
  }
  return head_end + 4;
}

std::optional<RawResponse> RawConnection::ReadHead(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    RawResponse res;
    size_t body_start = ParseHead(&res);
    if (body_start != std::string::npos) {
      buf_.erase(0, body_start);
      return res;
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

std::optional<RawResponse> RawConnection::ReadResponse(std::chrono::milliseconds timeout,
                                                       bool head_only) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bool unframed = false;
    RawResponse res;
    size_t body_start = ParseHead(&res);
    if (body_start != std::string::npos) {
      bool no_body = head_only || (res.status >= 100 && res.status < 200) || res.status == 204 ||
                     res.status == 304;
      auto te = res.Header("Transfer-Encoding");
      auto cl = res.Header("Content-Length");
      if (no_body) {
        buf_.erase(0, body_start);
        return res;
      }
      if (te && te->find("chunked") != std::string::npos) {
        res.chunked = true;
        if (auto end = ParseChunked(buf_, body_start, &res.body)) {
          buf_.erase(0, *end);
          return res;
        }
      } else if (cl) {
        size_t len = std::strtoull(cl->c_str(), nullptr, 10);
        if (buf_.size() >= body_start + len) {
          res.body = buf_.substr(body_start, len);
          buf_.erase(0, body_start + len);
          return res;
        }
      } else if (closed_) {  // body delimited by the end of the connection
        res.body = buf_.substr(body_start);
        buf_.clear();
        return res;
      } else {
        unframed = true;
      }
    }
    if (!Fill(deadline)) {
      // A body delimited by the end of the connection is complete now; parse it above.
      if (closed_ && unframed) continue;
      return std::nullopt;
    }
  }
}

std::vector<RawResponse> RawConnection::ReadAll(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::vector<RawResponse> out;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto r = ReadResponse(left);
    if (!r) break;
    out.push_back(std::move(*r));
  }
  return out;
}

bool RawConnection::WaitForClose(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!closed_) {
    if (!Fill(deadline) && !closed_) return false;
  }
  return true;
}

std::string BuildRequest(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view body, bool content_length) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  bool bodyless = method == "GET" || method == "HEAD";
  if (content_length && (!bodyless || !body.empty())) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

std::string ErrorShapeProblem(const RawResponse& r, std::initializer_list<int> statuses) {
  std::string problems;
  auto add = [&](const std::string& p) { problems += "- " + p + "\n"; };
  if (std::find(statuses.begin(), statuses.end(), r.status) == statuses.end()) {
    std::string want;
    for (int s : statuses) want += (want.empty() ? "" : "/") + std::to_string(s);
    add("status " + std::to_string(r.status) + ", expected " + want);
  }
  auto ct = r.Header("Content-Type");
  if (!ct || ct->rfind("application/json", 0) != 0) add("Content-Type is not application/json");
  if (!r.Has("x-request-id") || r.Header("x-request-id")->empty()) add("no x-request-id header");
  if (r.Has("EXCEPTION_WHAT")) add("EXCEPTION_WHAT header present");
  std::string lower = r.body;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("<html") != std::string::npos || lower.find("<!doctype") != std::string::npos) {
    add("HTML body");
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) {
    add("body is not {\"error\":{...}}");
  } else {
    const auto& e = j["error"];
    for (const char* k : {"message", "type"}) {
      if (!e.contains(k) || !e[k].is_string()) add(std::string("error.") + k + " is not a string");
    }
    for (const char* k : {"param", "code"}) {
      if (!e.contains(k) || !(e[k].is_string() || e[k].is_null())) {
        add(std::string("error.") + k + " is not a string or null");
      }
    }
  }
  if (problems.empty()) return "";
  return problems + "response:\n" + r.Describe();
}

int64_t RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

RawConnection OpenRaw(int port) {
  auto c = RawConnection::Connect(port);
  REQUIRE(c.ok());
  return std::move(c).value();
}

RawResponse RoundTrip(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  RawConnection c = OpenRaw(port);
  c.Send(bytes);
  auto r = c.ReadResponse(timeout);
  if (!r) FAIL("no response; received: " << c.unparsed().substr(0, 300));
  return *r;
}

nlohmann::json ErrorOf(const RawResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"] : nlohmann::json();
}

std::string ChatRequest(const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"}};
  h.insert(h.end(), extra.begin(), extra.end());
  return BuildRequest("POST", "/v1/chat/completions", h, body);
}

}  // namespace signalbox::testing
