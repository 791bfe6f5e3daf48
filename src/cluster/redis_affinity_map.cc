#include "cluster/redis_affinity_map.h"

namespace signalbox::cluster {

// Response ids are the upstream's (resp_...); anything longer is not kept in Redis.
constexpr size_t kMaxIdBytes = 256;

std::string RedisAffinityMap::Key(std::string_view response_id) const {
  return prefix_ + "resp:" + std::string(response_id);
}

void RedisAffinityMap::Remember(std::string_view response_id, std::string_view backend) {
  if (response_id.empty()) return;
  local_->Remember(response_id, backend);
  if (response_id.size() > kMaxIdBytes) return;
  // Best effort: a failed SET leaves the mapping on this replica only.
  (void)redis_.Call(
      {"SET", Key(response_id), std::string(backend), "EX", std::to_string(ttl_.count())});
}

std::optional<std::string> RedisAffinityMap::Lookup(std::string_view response_id) const {
  if (!response_id.empty() && response_id.size() <= kMaxIdBytes) {
    auto v = redis_.Call({"GET", Key(response_id)});
    if (v.ok() && v->type == RedisValue::Type::kString) return v->str;
  }
  return local_->Lookup(response_id);
}

}  // namespace signalbox::cluster
