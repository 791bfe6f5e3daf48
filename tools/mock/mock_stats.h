// MockStats: the counters behind GET /mock/stats and the copy of the last API request
// behind GET /mock/last-request, so tests can see what the gateway did upstream.
//
// Thread-safe. Counters are relaxed atomics (tests poll them; no ordering is implied
// between two counters). The fault table and the last request take a mutex, held only
// to copy a few strings.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace signalbox::mock {

enum class Counter {
  kRequests,           // every API request (not /mock/*)
  kChat,               // POST .../chat/completions
  kCompletions,        // POST .../completions
  kEmbeddings,         // POST .../embeddings
  kModels,             // GET .../models
  kResponses,          // POST .../responses
  kMessages,           // POST .../messages
  kCountTokens,        // POST .../messages/count_tokens
  kStreamsStarted,     // 200 SSE responses begun
  kStreamsCompleted,   // SSE responses whose chunked body ended cleanly
  kClientDisconnects,  // the client left before the mock finished answering
  kInFlight,           // API requests being handled now (a gauge; reset leaves it alone)
  kCount,
};

// What /mock/last-request reports.
struct RecordedRequest {
  std::string method;
  std::string path;  // the request target: the path and the query string, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;
};

class MockStats {
 public:
  void Add(Counter c, int64_t delta = 1) {
    counters_[static_cast<size_t>(c)].fetch_add(delta, std::memory_order_relaxed);
  }
  int64_t Get(Counter c) const {
    return counters_[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }
  void CountFault(const std::string& spec);
  void RecordRequest(RecordedRequest request);

  // Zeroes every counter but kInFlight and forgets the faults and the last request.
  void Reset();

  std::string StatsJson() const;
  std::string LastRequestJson() const;

 private:
  std::array<std::atomic<int64_t>, static_cast<size_t>(Counter::kCount)> counters_{};
  mutable std::mutex mu_;
  std::map<std::string, int64_t> faults_;  // GUARDED_BY(mu_)
  RecordedRequest last_;                   // GUARDED_BY(mu_)
  bool has_last_ = false;                  // GUARDED_BY(mu_)
};

// Holds one unit of Counter::kInFlight for as long as it lives. Streams keep it inside
// their content provider, so the gauge covers the whole stream.
class InFlightToken {
 public:
  explicit InFlightToken(MockStats& stats) : stats_(stats) { stats_.Add(Counter::kInFlight); }
  ~InFlightToken() { stats_.Add(Counter::kInFlight, -1); }
  InFlightToken(const InFlightToken&) = delete;
  InFlightToken& operator=(const InFlightToken&) = delete;

 private:
  MockStats& stats_;
};

}  // namespace signalbox::mock
