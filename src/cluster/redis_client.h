// RedisClient: a small synchronous Redis client over Debian's hiredis — a pool of
// connections, every command bounded by one timeout, Lua scripts by EVALSHA.
//
// Thread-safe and long-lived: each call takes a pooled connection (or opens one), so
// calls on many request threads run in parallel. No lock is held during network I/O. A
// connection that failed or timed out is closed, never reused (its reply stream would be
// out of step). hiredis is used only in this folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

struct redisContext;

namespace signalbox::cluster {

// One reply. Errors are values too (type kError, text in `str`): a script may fail
// without the connection failing.
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<RedisValue> elements;

  bool is_error() const { return type == Type::kError; }
  // The integer of an integer reply, or of a string holding a decimal integer; else `def`.
  int64_t AsInt(int64_t def = 0) const;
};

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string password;  // empty = no AUTH
  std::chrono::milliseconds timeout{100};
};

// A Lua script and its SHA-1, for EVALSHA.
struct RedisScript {
  explicit RedisScript(std::string body);
  std::string body;
  std::string sha1;  // hex
};

class RedisClient {
 public:
  explicit RedisClient(RedisEndpoint endpoint) : ep_(std::move(endpoint)) {}
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends every command in one write and reads every reply: one round trip. Fails with
  // kUnavailable (cannot connect, connection lost) or kDeadlineExceeded (timeout).
  StatusOr<std::vector<RedisValue>> Pipeline(const std::vector<std::vector<std::string>>& cmds);
  StatusOr<RedisValue> Call(const std::vector<std::string>& argv);
  // EVALSHA script 0 args...; on NOSCRIPT (a restarted Redis) it sends EVAL once.
  StatusOr<RedisValue> Eval(const RedisScript& script, const std::vector<std::string>& args);

  const RedisEndpoint& endpoint() const { return ep_; }

 private:
  StatusOr<redisContext*> Take();
  void Put(redisContext* c);  // back to the pool
  void DropIdle();
  StatusOr<redisContext*> Connect();

  const RedisEndpoint ep_;
  std::mutex mu_;
  std::vector<redisContext*> idle_;  // GUARDED_BY(mu_)
};

}  // namespace signalbox::cluster
