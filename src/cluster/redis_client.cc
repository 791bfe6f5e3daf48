#include "cluster/redis_client.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <cerrno>
#include <charconv>

namespace signalbox::cluster {
namespace {

constexpr size_t kMaxIdle = 64;

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

RedisValue Convert(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

// The status of a failed context: a timeout is kDeadlineExceeded, the rest kUnavailable.
Status ContextError(const redisContext* c, std::string_view what) {
  std::string msg = fmt::format("redis {}: {}", what, c->errstr[0] ? c->errstr : "I/O error");
  if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return DeadlineExceeded(msg);
  }
  return Unavailable(msg);
}

void AppendArgv(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data());
}

}  // namespace

int64_t RedisValue::AsInt(int64_t def) const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kString || type == Type::kStatus) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
    if (ec == std::errc() && p == str.data() + str.size()) return v;
  }
  return def;
}

RedisScript::RedisScript(std::string b) : body(std::move(b)) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), d);
  for (unsigned char c : d) sha1 += fmt::format("{:02x}", c);
}

RedisClient::~RedisClient() {
  for (redisContext* c : idle_) redisFree(c);
}

StatusOr<redisContext*> RedisClient::Connect() {
  redisContext* c = redisConnectWithTimeout(ep_.host.c_str(), ep_.port, ToTimeval(ep_.timeout));
  if (c == nullptr) return Unavailable("redis connect: out of memory");
  if (c->err) {
    Status s = ContextError(c, "connect");
    redisFree(c);
    return s;
  }
  redisSetTimeout(c, ToTimeval(ep_.timeout));
  std::vector<std::vector<std::string>> hello;
  if (!ep_.password.empty()) hello.push_back({"AUTH", ep_.password});
  if (ep_.db != 0) hello.push_back({"SELECT", std::to_string(ep_.db)});
  for (const auto& cmd : hello) AppendArgv(c, cmd);
  for (size_t i = 0; i < hello.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK) {
      Status s = ContextError(c, "handshake");
      redisFree(c);
      return s;
    }
    auto* r = static_cast<redisReply*>(raw);
    bool err = r->type == REDIS_REPLY_ERROR;
    // Never log the password; Redis's own message does not contain it.
    std::string what = err ? std::string(r->str, r->len) : "";
    freeReplyObject(r);
    if (err) {
      redisFree(c);
      return Unavailable(
          fmt::format("redis {}: {}", hello[i][0] == "AUTH" ? "AUTH" : "SELECT", what));
    }
  }
  return c;
}

StatusOr<redisContext*> RedisClient::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  return Connect();
}

void RedisClient::Put(redisContext* c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() >= kMaxIdle) {
    redisFree(c);
    return;
  }
  idle_.push_back(c);
}

void RedisClient::DropIdle() {
  std::vector<redisContext*> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
  for (redisContext* c : idle) redisFree(c);
}

StatusOr<std::vector<RedisValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  auto c = Take();
  if (!c.ok()) return c.status();
  for (const auto& cmd : cmds) AppendArgv(*c, cmd);
  std::vector<RedisValue> out;
  out.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(*c, &raw) != REDIS_OK) {
      Status s = ContextError(*c, "command");
      redisFree(*c);
      // The other idle connections are most likely broken the same way (Redis restarted):
      // drop them, so the next call connects afresh instead of failing once more.
      DropIdle();
      return s;
    }
    out.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  Put(*c);
  return out;
}

StatusOr<RedisValue> RedisClient::Call(const std::vector<std::string>& argv) {
  auto r = Pipeline({argv});
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

StatusOr<RedisValue> RedisClient::Eval(const RedisScript& script,
                                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"EVALSHA", script.sha1, "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Call(argv);
  if (!r.ok() || !r->is_error() || r->str.rfind("NOSCRIPT", 0) != 0) return r;
  argv[0] = "EVAL";
  argv[1] = script.body;
  return Call(argv);
}

}  // namespace signalbox::cluster
