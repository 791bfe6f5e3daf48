#include "cluster/scripts.h"

namespace signalbox::cluster {
namespace {

// Shared helpers: Redis TIME in ms, integers formatted for INCRBY (a Lua number would
// print 1e+15), and the reaper of expired leases.
constexpr const char* kPrelude = R"lua(
local function s(x) return string.format('%d', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function reap(P, now)
  local dead = redis.call('ZRANGEBYSCORE', P .. 'replicas', '-inf', now)
  for _, r in ipairs(dead) do
    local prefix = r .. '|'
    for _, k in ipairs(redis.call('SMEMBERS', P .. 'inc:' .. r .. ':keys')) do
      local kp = P .. 'k:' .. k
      local all = redis.call('HGETALL', kp .. ':t')
      for i = 1, #all, 2 do
        if string.sub(all[i], 1, #prefix) == prefix then
          redis.call('HDEL', kp .. ':t', all[i])
          redis.call('DECRBY', kp .. ':rsum', all[i + 1])
        end
      end
    end
    redis.call('DEL', P .. 'inc:' .. r .. ':keys')
    redis.call('ZREM', P .. 'replicas', r)
  end
end
local DAY_TTL, MONTH_TTL, LOG_TTL = 259200000, 3456000000, 120000
)lua";

// ARGV: prefix gen incarnation ticket key day month daily_limit monthly_limit estimate
//       rpm tpm max_parallel tokens lease_ms   (limits: -1 = none; money in nano-USD)
// Returns {verdict, detail, wait_ms, never, requests, tokens, in_flight, spent_day,
//          spent_month, reserved}; verdict OK | LIMIT (detail rpm|tpm|max_parallel) |
//          BUDGET (detail daily|monthly, wait_ms = what is left) | GEN.
constexpr const char* kAdmit = R"lua(
local P, gen, inc, ticket, key = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local day, month = ARGV[6], ARGV[7]
local dlim, mlim, est = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local rpm, tpm, par = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local tokens, lease = tonumber(ARGV[14]), tonumber(ARGV[15])
if redis.call('GET', P .. 'gen') ~= gen then return {'GEN'} end
local now = now_ms()
reap(P, now)
redis.call('ZADD', P .. 'replicas', now + lease, inc)
local kp = P .. 'k:' .. key
local logged = rpm >= 0 or tpm >= 0
local count, tsum = 0, 0
if logged then
  local old = redis.call('ZRANGEBYSCORE', kp .. ':log', '-inf', now - 60000)
  if #old > 0 then
    local freed = 0
    for _, id in ipairs(old) do
      freed = freed + (tonumber(redis.call('HGET', kp .. ':tok', id)) or 0)
      redis.call('HDEL', kp .. ':tok', id)
    end
    redis.call('DECRBY', kp .. ':tsum', s(freed))
    redis.call('ZREMRANGEBYSCORE', kp .. ':log', '-inf', now - 60000)
  end
  count = redis.call('ZCARD', kp .. ':log')
  tsum = tonumber(redis.call('GET', kp .. ':tsum') or '0')
end
local inflight = redis.call('HLEN', kp .. ':t')
local spent_d = tonumber(redis.call('GET', kp .. ':d:' .. day) or '0')
local spent_m = tonumber(redis.call('GET', kp .. ':m:' .. month) or '0')
local rsum = tonumber(redis.call('GET', kp .. ':rsum') or '0')
local function deny(kind, what, wait, never)
  return {kind, what, s(wait), never, count, s(tsum), inflight, s(spent_d), s(spent_m), s(rsum)}
end
if par >= 0 and inflight >= par then return deny('LIMIT', 'max_parallel', 1000, 0) end
if rpm >= 0 and count >= rpm then
  local e = redis.call('ZRANGE', kp .. ':log', count - rpm, count - rpm, 'WITHSCORES')
  return deny('LIMIT', 'rpm', tonumber(e[2]) + 60000 - now, 0)
end
if tpm >= 0 and tsum + tokens > tpm then
  if tokens > tpm then return deny('LIMIT', 'tpm', 60000, 1) end
  local wait, left = 60000, tsum
  local entries = redis.call('ZRANGE', kp .. ':log', 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    left = left - (tonumber(redis.call('HGET', kp .. ':tok', entries[i])) or 0)
    if left + tokens <= tpm then
      wait = tonumber(entries[i + 1]) + 60000 - now
      break
    end
  end
  return deny('LIMIT', 'tpm', wait, 0)
end
if dlim >= 0 and spent_d + rsum + est > dlim then
  return deny('BUDGET', 'daily', math.max(0, dlim - spent_d - rsum), 0)
end
if mlim >= 0 and spent_m + rsum + est > mlim then
  return deny('BUDGET', 'monthly', math.max(0, mlim - spent_m - rsum), 0)
end
redis.call('HSET', kp .. ':t', ticket, ARGV[10])
redis.call('INCRBY', kp .. ':rsum', ARGV[10])
redis.call('SADD', P .. 'inc:' .. inc .. ':keys', key)
if logged then
  redis.call('ZADD', kp .. ':log', now, ticket)
  redis.call('HSET', kp .. ':tok', ticket, ARGV[14])
  redis.call('INCRBY', kp .. ':tsum', ARGV[14])
  for _, suffix in ipairs({':log', ':tok', ':tsum'}) do
    redis.call('PEXPIRE', kp .. suffix, LOG_TTL)
  end
  count, tsum = count + 1, tsum + tokens
end
return {'OK', '', '0', 0, count, s(tsum), inflight + 1, s(spent_d), s(spent_m), s(rsum + est)}
)lua";

// Adds one cost to a key's (kind k) or backend's (kind b) day and month totals.
constexpr const char* kAddSpend = R"lua(
local function add_spend(P, kind, name, day, month, d, m)
  local base = P .. kind .. ':' .. name
  if tonumber(d) ~= 0 then
    redis.call('INCRBY', base .. ':d:' .. day, d)
    redis.call('PEXPIRE', base .. ':d:' .. day, DAY_TTL)
  end
  if tonumber(m) ~= 0 then
    redis.call('INCRBY', base .. ':m:' .. month, m)
    redis.call('PEXPIRE', base .. ':m:' .. month, MONTH_TTL)
  end
  local set = P .. (kind == 'k' and 'keys:' or 'backends:') .. month
  redis.call('SADD', set, name)
  redis.call('PEXPIRE', set, MONTH_TTL)
end
)lua";

// ARGV: prefix gen ticket key day month tokens(-1 = keep the estimate) key_cost
//       [backend cost]...
// Returns {OK, spent_day, spent_month, reserved} or {GEN}.
constexpr const char* kSettle = R"lua(
local P, gen, ticket, key, day, month = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local tokens = tonumber(ARGV[7])
if redis.call('GET', P .. 'gen') ~= gen then return {'GEN'} end
local kp = P .. 'k:' .. key
if ticket ~= '' then
  local est = redis.call('HGET', kp .. ':t', ticket)
  if est then
    redis.call('HDEL', kp .. ':t', ticket)
    redis.call('DECRBY', kp .. ':rsum', est)
  end
  local tok = redis.call('HGET', kp .. ':tok', ticket)
  if tok and tokens >= 0 then
    redis.call('HSET', kp .. ':tok', ticket, ARGV[7])
    redis.call('INCRBY', kp .. ':tsum', s(tokens - tonumber(tok)))
  end
end
add_spend(P, 'k', key, day, month, ARGV[8], ARGV[8])
for i = 9, #ARGV, 2 do add_spend(P, 'b', ARGV[i], day, month, ARGV[i + 1], ARGV[i + 1]) end
return {'OK', redis.call('GET', kp .. ':d:' .. day) or '0',
        redis.call('GET', kp .. ':m:' .. month) or '0', redis.call('GET', kp .. ':rsum') or '0'}
)lua";

// ARGV: prefix new_gen replica day month [kind name day_total month_total]...
// Returns {gen, 1 if this replica's totals were added now, else 0}.
constexpr const char* kSync = R"lua(
local P, day, month = ARGV[1], ARGV[4], ARGV[5]
local g = redis.call('GET', P .. 'gen')
if not g then
  g = ARGV[2]
  redis.call('SET', P .. 'gen', g)
end
local added = redis.call('SADD', P .. 'gen:' .. g .. ':in', ARGV[3])
if added == 1 then
  for i = 6, #ARGV, 4 do add_spend(P, ARGV[i], ARGV[i + 1], day, month, ARGV[i + 2], ARGV[i + 3]) end
end
return {g, added}
)lua";

// ARGV: prefix gen [kind name day month d m]...   kind r: name = key, day = ticket.
// Returns 1, or 0 when the generation changed (nothing applied).
constexpr const char* kPush = R"lua(
local P = ARGV[1]
if redis.call('GET', P .. 'gen') ~= ARGV[2] then return 0 end
for i = 3, #ARGV, 6 do
  if ARGV[i] == 'r' then
    local kp = P .. 'k:' .. ARGV[i + 1]
    local est = redis.call('HGET', kp .. ':t', ARGV[i + 2])
    if est then
      redis.call('HDEL', kp .. ':t', ARGV[i + 2])
      redis.call('DECRBY', kp .. ':rsum', est)
    end
  else
    add_spend(P, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5])
  end
end
return 1
)lua";

// ARGV: prefix incarnation lease_ms. Returns the generation or nil.
constexpr const char* kHeartbeat = R"lua(
local P = ARGV[1]
local now = now_ms()
reap(P, now)
redis.call('ZADD', P .. 'replicas', now + tonumber(ARGV[3]), ARGV[2])
return redis.call('GET', P .. 'gen')
)lua";

std::string Join(std::initializer_list<const char*> parts) {
  std::string out;
  for (const char* p : parts) out += p;
  return out;
}

}  // namespace

const RedisScript& AdmitScript() {
  static const RedisScript s(Join({kPrelude, kAdmit}));
  return s;
}
const RedisScript& SettleScript() {
  static const RedisScript s(Join({kPrelude, kAddSpend, kSettle}));
  return s;
}
const RedisScript& SyncScript() {
  static const RedisScript s(Join({kPrelude, kAddSpend, kSync}));
  return s;
}
const RedisScript& PushScript() {
  static const RedisScript s(Join({kPrelude, kAddSpend, kPush}));
  return s;
}
const RedisScript& HeartbeatScript() {
  static const RedisScript s(Join({kPrelude, kHeartbeat}));
  return s;
}

}  // namespace signalbox::cluster
