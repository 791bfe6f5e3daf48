#include "upstream/client_pool.h"

#include <fmt/format.h>

namespace signalbox {

ClientSettings ClientSettings::For(const BackendConfig& b) {
  ClientSettings s;
  std::string host = b.host.find(':') != std::string::npos ? "[" + b.host + "]" : b.host;
  s.scheme_host_port = fmt::format("{}://{}:{}", b.scheme, host, b.port);
  s.connect_timeout = b.timeouts.connect;
  s.read_timeout = std::max(b.timeouts.first_byte, b.timeouts.idle);
  s.max_idle = static_cast<size_t>(std::max(16, b.max_concurrency));
  return s;
}

bool ClientSettings::operator==(const ClientSettings& o) const {
  return scheme_host_port == o.scheme_host_port && connect_timeout == o.connect_timeout &&
         read_timeout == o.read_timeout && write_timeout == o.write_timeout &&
         max_idle == o.max_idle;
}

std::unique_ptr<httplib::Client> ClientPool::Make() const {
  auto c = std::make_unique<httplib::Client>(settings_.scheme_host_port);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_follow_location(false);  // a redirect would carry our API key elsewhere
  c->set_connection_timeout(settings_.connect_timeout);
  c->set_read_timeout(settings_.read_timeout);
  c->set_write_timeout(settings_.write_timeout);
  c->set_compress(false);
  c->set_decompress(true);
  c->enable_server_certificate_verification(true);
  return c;
}

std::unique_ptr<httplib::Client> ClientPool::Acquire() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return Make();
}

void ClientPool::Release(std::unique_ptr<httplib::Client> c, bool reusable) {
  if (!reusable || !c) return;  // destroying the client closes its socket
  std::lock_guard<std::mutex> lk(mu_);
  if (idle_.size() < settings_.max_idle) idle_.push_back(std::move(c));
}

size_t ClientPool::idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return idle_.size();
}

}  // namespace signalbox
