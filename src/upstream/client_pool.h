// ClientPool: keep-alive httplib clients for one upstream origin.
//
// Thread-safe. One httplib::Client serves one request at a time (its send() holds a
// mutex for the whole exchange), so each in-flight upstream request checks a client out
// and returns it afterwards; idle clients keep their connection open for the next one.
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"

namespace signalbox {

struct ClientSettings {
  std::string scheme_host_port;  // e.g. https://api.openai.com:443
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{60000};  // per read; the watchdog enforces finer limits
  std::chrono::milliseconds write_timeout{30000};
  size_t max_idle = 64;

  static ClientSettings For(const BackendConfig& b);
  bool operator==(const ClientSettings& o) const;
};

class ClientPool {
 public:
  explicit ClientPool(ClientSettings s) : settings_(std::move(s)) {}

  std::unique_ptr<httplib::Client> Acquire();
  // `reusable` = the exchange completed cleanly and the connection may carry another.
  void Release(std::unique_ptr<httplib::Client> c, bool reusable);

  const ClientSettings& settings() const { return settings_; }
  size_t idle() const;

 private:
  std::unique_ptr<httplib::Client> Make() const;

  const ClientSettings settings_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

}  // namespace signalbox
