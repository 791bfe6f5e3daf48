// HttplibExchange: the Exchange implementation over httplib's Request/Response and the
// connection's ConnStream (internal to server/).
#pragma once

#include <httplib.h>

#include <mutex>

#include "server/conn_stream.h"
#include "server/exchange.h"

namespace signalbox::server_internal {

class HttplibExchange final : public Exchange {
 public:
  HttplibExchange(const httplib::Request& req, httplib::Response& res, ConnStream& conn,
                  std::string_view body, bool close_after)
      : req_(req), res_(res), conn_(conn), body_(body), close_after_(close_after) {}

  std::string_view method() const override { return req_.method; }
  std::string_view path() const override { return req_.path; }
  std::optional<std::string_view> query_param(std::string_view name) const override {
    auto it = req_.params.find(std::string(name));
    if (it == req_.params.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  std::optional<std::string_view> header(std::string_view name) const override;
  void ForEachHeader(
      const std::function<void(std::string_view, std::string_view)>& fn) const override;
  std::string_view body() const override { return body_; }
  std::string_view remote_addr() const override { return req_.remote_addr; }

  void Respond(int status, const std::vector<Header>& headers, std::string_view content_type,
               std::string body) override;
  bool StreamBegin(int status, const std::vector<Header>& headers,
                   std::string_view content_type) override;
  bool StreamWrite(std::string_view data) override;
  bool StreamEnd() override;
  void StreamAbort() override;
  bool committed() const override { return committed_; }
  bool ClientGone() const override { return conn_.PeerClosed(); }
  int client_fd() const override { return conn_.socket(); }
  bool TryHeartbeat(int status, const std::vector<Header>& headers, std::string_view content_type,
                    std::string_view data) override;

  // After the handler: did the response leave the connection unusable?
  bool must_close() const { return must_close_; }

 private:
  std::string Head(int status, const std::vector<Header>& headers,
                   std::string_view content_type) const;
  bool FlushPending();  // REQUIRES: mu_ held

  const httplib::Request& req_;
  httplib::Response& res_;
  ConnStream& conn_;
  std::string_view body_;
  const bool close_after_;
  std::mutex mu_;        // serialises stream writes (request thread vs. heartbeat)
  std::string pending_;  // bytes a non-blocking heartbeat could not send yet
  bool committed_ = false;
  bool ended_ = false;
  bool must_close_ = false;
};

// Reads `len` bytes of request body from the connection; false if the client stalls or
// leaves.
bool ReadBody(ConnStream& conn, size_t len, std::string* out);

}  // namespace signalbox::server_internal
