#include "mock/mock_stream.h"

#include <algorithm>
#include <chrono>
#include <string_view>

namespace signalbox::mock {
namespace {

constexpr std::chrono::milliseconds kPollSlice{50};

// One stream being written. One-per-stream; used by one worker thread.
class SseWriter {
 public:
  SseWriter(StreamSpec& spec, const StreamEnv& env, Connection& connection, httplib::DataSink& sink)
      : spec_(spec), dialect_(*spec.dialect), env_(env), connection_(connection), sink_(sink) {}

  // Writes the stream. Returns what the httplib provider must return: false aborts the
  // response (no terminating chunk), which is how `cut` and a gone client end.
  bool Run();

 private:
  bool Send(std::string_view data);
  bool SendEvent(const SseEvent& event);
  bool SendEvents(const std::vector<SseEvent>& events);
  // Waits token_interval_ms; false when the client left or the mock is stopping.
  bool Pace();
  bool ClientLeft();
  bool Finish();

  const StreamSpec& spec_;
  StreamDialect& dialect_;
  const StreamEnv& env_;
  Connection& connection_;
  httplib::DataSink& sink_;
  bool disconnected_ = false;
};

bool SseWriter::Run() {
  const FaultKind kind = spec_.fault.kind;
  if (kind == FaultKind::kEmptyStream) return Finish();

  const bool faulted = kind != FaultKind::kNone;
  const int content =
      faulted ? std::min(spec_.fault.count, dialect_.ContentCount()) : dialect_.ContentCount();
  bool first = true;
  if (!faulted || spec_.fault.count > 0) {
    std::vector<SseEvent> opening = dialect_.Opening();
    if (!SendEvents(opening)) return false;
    first = opening.empty();
  }
  for (int i = 0; i < content; ++i) {
    if (!first && !Pace()) return false;
    first = false;
    if (!SendEvent(dialect_.Content(i))) return false;
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
      return SendEvent(dialect_.ErrorEvent()) && Finish();
    case FaultKind::kMalformed:
      return SendEvents(dialect_.Malformed()) && Finish();
    default:
      break;
  }
  return SendEvents(dialect_.Closing()) && Finish();
}

bool SseWriter::Send(std::string_view data) {
  if (sink_.write(data.data(), data.size())) return true;
  if (!disconnected_) {
    disconnected_ = true;
    env_.stats->Add(Counter::kClientDisconnects);
  }
  return false;
}

bool SseWriter::SendEvent(const SseEvent& event) {
  std::string out;
  out.reserve(event.name.size() + event.data.size() + 16);
  if (!event.name.empty()) out.append("event: ").append(event.name).append("\n");
  out.append("data: ").append(event.data).append("\n\n");
  return Send(out);
}

bool SseWriter::SendEvents(const std::vector<SseEvent>& events) {
  for (const SseEvent& event : events) {
    if (!SendEvent(event)) return false;
  }
  return true;
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
  auto shared_spec = std::make_shared<StreamSpec>(std::move(spec));
  return [shared_spec, env, connection, in_flight](size_t, httplib::DataSink& sink) {
    return SseWriter(*shared_spec, env, *connection, sink).Run();
  };
}

}  // namespace signalbox::mock
