#include "mock/mock_stream.h"

#include <algorithm>
#include <chrono>
#include <string_view>

namespace signalbox::mock {
namespace {

constexpr std::chrono::milliseconds kPollSlice{50};

constexpr std::string_view kErrorEvent =
    R"({"error":{"message":"mock upstream error","type":"server_error","param":null,)"
    R"("code":"mock_error"}})";

// One stream being written. One-per-stream; used by one worker thread.
class SseWriter {
 public:
  SseWriter(const StreamSpec& spec, const StreamEnv& env, Connection& connection,
            httplib::DataSink& sink)
      : spec_(spec), env_(env), connection_(connection), sink_(sink) {}

  // Writes the stream. Returns what the httplib provider must return: false aborts the
  // response (no terminating chunk), which is how `cut` and a gone client end.
  bool Run();

 private:
  bool Send(std::string_view data);
  bool SendEvent(std::string_view json);
  // Waits token_interval_ms; false when the client left or the mock is stopping.
  bool Pace();
  bool ClientLeft();
  bool Finish();

  const StreamSpec& spec_;
  const StreamEnv& env_;
  Connection& connection_;
  httplib::DataSink& sink_;
  bool disconnected_ = false;
};

bool SseWriter::Run() {
  const Generation& g = spec_.gen;
  const FaultKind kind = spec_.fault.kind;
  if (kind == FaultKind::kEmptyStream) return Finish();

  const bool faulted = kind != FaultKind::kNone;
  const int content = faulted ? std::min(spec_.fault.count, g.tokens) : g.tokens;
  const bool usage_null = spec_.include_usage && g.usage.has_value();
  bool first = true;
  if (g.api == Api::kChat && (!faulted || spec_.fault.count > 0)) {
    if (!SendEvent(RoleChunk(g, usage_null))) return false;
    first = false;
  }
  for (int i = 0; i < content; ++i) {
    if (!first && !Pace()) return false;
    first = false;
    if (!SendEvent(ContentChunk(g, i, usage_null))) return false;
  }

  switch (kind) {
    case FaultKind::kCut:
      return false;
    case FaultKind::kStall:
      if (connection_.Wait(std::chrono::milliseconds(-1), *env_.stopping) ==
          WaitResult::kPeerClosed) {
        env_.stats->Add(Counter::kClientDisconnects);
      }
      return false;
    case FaultKind::kErrorEvent:
      return SendEvent(kErrorEvent) && Finish();
    case FaultKind::kMalformed:
      return SendEvent(R"({"id":"broken","object":"chat.completion.chunk","choices":[{)") &&
             Send("data: [DONE]\n\n") && Finish();
    default:
      break;
  }
  // A chat answer of zero tokens still needs a chunk with its finish_reason.
  if (g.tokens == 0 && g.api == Api::kChat && !SendEvent(ContentChunk(g, -1, usage_null))) {
    return false;
  }
  if (spec_.include_usage && g.usage && !SendEvent(UsageChunk(g))) return false;
  return Send("data: [DONE]\n\n") && Finish();
}

bool SseWriter::Send(std::string_view data) {
  if (sink_.write(data.data(), data.size())) return true;
  if (!disconnected_) {
    disconnected_ = true;
    env_.stats->Add(Counter::kClientDisconnects);
  }
  return false;
}

bool SseWriter::SendEvent(std::string_view json) {
  std::string event;
  event.reserve(json.size() + 8);
  event.append("data: ").append(json).append("\n\n");
  return Send(event);
}

bool SseWriter::Pace() {
  // Unpaced streams find a gone client through their next failed write.
  if (spec_.token_interval_ms == 0) return !env_.stopping->load(std::memory_order_relaxed);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(spec_.token_interval_ms);
  while (true) {
    if (env_.stopping->load(std::memory_order_relaxed)) return false;
    if (ClientLeft()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return true;
    if (connection_.Wait(std::min(left, kPollSlice), *env_.stopping) == WaitResult::kPeerClosed) {
      env_.stats->Add(Counter::kClientDisconnects);
      disconnected_ = true;
      return false;
    }
  }
}

bool SseWriter::ClientLeft() {
  // is_writable() peeks the socket and sees a FIN; the fd check covers the same case
  // should httplib's view differ.
  if (sink_.is_writable() && !connection_.PeerClosed()) return false;
  env_.stats->Add(Counter::kClientDisconnects);
  disconnected_ = true;
  return true;
}

bool SseWriter::Finish() {
  // Counted before the last bytes leave, so a client that has read the end of the
  // stream always finds it counted.
  env_.stats->Add(Counter::kStreamsCompleted);
  sink_.done();
  return true;
}

}  // namespace

httplib::ContentProviderWithoutLength MakeSseProvider(StreamSpec spec, StreamEnv env,
                                                      std::shared_ptr<Connection> connection,
                                                      std::shared_ptr<InFlightToken> in_flight) {
  auto shared_spec = std::make_shared<const StreamSpec>(std::move(spec));
  return [shared_spec, env, connection, in_flight](size_t, httplib::DataSink& sink) {
    return SseWriter(*shared_spec, env, *connection, sink).Run();
  };
}

}  // namespace signalbox::mock
