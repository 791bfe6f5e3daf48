// AffinityMap: which backend produced a Responses API response, so that a request that
// continues it (`previous_response_id`) goes to the backend that holds its state.
//
// An interface so that the map can live in this process (LocalAffinityMap) or in state
// shared by every replica (the cluster issue's Redis map) without the request path
// changing. Thread-safe: every method may run on many request threads at once.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace signalbox {

class AffinityMap {
 public:
  virtual ~AffinityMap() = default;
  // Records that backend `backend` produced response `response_id`.
  virtual void Remember(std::string_view response_id, std::string_view backend) = 0;
  // The backend that produced `response_id`, if known.
  virtual std::optional<std::string> Lookup(std::string_view response_id) const = 0;
};

// In-process map with least-recently-used eviction beyond `capacity` entries.
class LocalAffinityMap final : public AffinityMap {
 public:
  explicit LocalAffinityMap(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  void Remember(std::string_view response_id, std::string_view backend) override;
  std::optional<std::string> Lookup(std::string_view response_id) const override;
  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::string>;  // response id, backend
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace signalbox
