#include "runtime/affinity_map.h"

namespace signalbox {

void LocalAffinityMap::Remember(std::string_view response_id, std::string_view backend) {
  if (response_id.empty()) return;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = index_.find(std::string(response_id));
  if (it != index_.end()) {
    it->second->second = std::string(backend);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(std::string(response_id), std::string(backend));
  index_.emplace(lru_.front().first, lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::optional<std::string> LocalAffinityMap::Lookup(std::string_view response_id) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = index_.find(std::string(response_id));
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

size_t LocalAffinityMap::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return lru_.size();
}

}  // namespace signalbox
