#include "mock/mock_stats.h"

#include "common/json_writer.h"

namespace signalbox::mock {
namespace {

constexpr std::pair<Counter, const char*> kCounterNames[] = {
    {Counter::kRequests, "requests"},
    {Counter::kChat, "chat"},
    {Counter::kCompletions, "completions"},
    {Counter::kEmbeddings, "embeddings"},
    {Counter::kModels, "models"},
    {Counter::kResponses, "responses"},
    {Counter::kMessages, "messages"},
    {Counter::kCountTokens, "count_tokens"},
    {Counter::kStreamsStarted, "streams_started"},
    {Counter::kStreamsCompleted, "streams_completed"},
    {Counter::kClientDisconnects, "client_disconnects"},
    {Counter::kInFlight, "in_flight"},
};

}  // namespace

void MockStats::CountFault(const std::string& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_[spec];
}

void MockStats::RecordRequest(RecordedRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::move(request);
  has_last_ = true;
}

void MockStats::Reset() {
  for (size_t i = 0; i < counters_.size(); ++i) {
    if (static_cast<Counter>(i) != Counter::kInFlight) counters_[i].store(0);
  }
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
  last_ = RecordedRequest();
  has_last_ = false;
}

std::string MockStats::StatsJson() const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  for (const auto& [counter, name] : kCounterNames) w.Field(name, Get(counter));
  w.Key("faults").BeginObject();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [spec, n] : faults_) w.Field(spec, n);
  }
  w.EndObject().EndObject();
  return out;
}

std::string MockStats::LastRequestJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_last_) return "null";
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("method", last_.method).Field("path", last_.path);
  w.Key("headers").BeginObject();
  for (const auto& [name, value] : last_.headers) w.Field(name, value);
  w.EndObject().Field("body", last_.body).EndObject();
  return out;
}

}  // namespace signalbox::mock
