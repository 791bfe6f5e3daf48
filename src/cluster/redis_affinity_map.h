// RedisAffinityMap: the previous_response_id affinity map shared by every replica.
//
// A Responses answer's id -> the backend that produced it, as one Redis string per id
// (`<prefix>resp:<id>`, expiring after cluster.affinity_ttl): one SET per answer, one GET
// per request that names a previous response, each bounded by cluster.timeout. Every
// mapping is also kept in this replica's own LocalAffinityMap, which answers while Redis
// is down or slow (a follow-up then keeps its affinity on the replica that served the
// first turn, and is routed normally elsewhere). Thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "cluster/redis_client.h"
#include "runtime/affinity_map.h"

namespace signalbox::cluster {

class RedisAffinityMap final : public AffinityMap {
 public:
  // REQUIRES: local outlives this.
  RedisAffinityMap(RedisEndpoint endpoint, std::string prefix, std::chrono::seconds ttl,
                   AffinityMap* local)
      : redis_(std::move(endpoint)), prefix_(std::move(prefix)), ttl_(ttl), local_(local) {}

  void Remember(std::string_view response_id, std::string_view backend) override;
  std::optional<std::string> Lookup(std::string_view response_id) const override;

 private:
  std::string Key(std::string_view response_id) const;

  mutable RedisClient redis_;
  const std::string prefix_;
  const std::chrono::seconds ttl_;
  AffinityMap* const local_;
};

}  // namespace signalbox::cluster
