// SseParser: incremental parser of a text/event-stream body (WHATWG SSE framing).
//
// One-per-stream, not thread-safe. Feed() takes bytes as they arrive, split anywhere
// (inside a line, between \r and \n); every complete event is handed to the callback
// exactly once. Lines end with \r\n, \n or \r. `data:` lines of one event are joined
// with \n; `event:` names the event; comment lines (":") and `id:`/`retry:` are dropped
// (the gateway never relays SSE ids: see the SPEC's Streaming paragraph).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace signalbox {

struct SseEvent {
  std::string_view event;  // empty = default "message"
  std::string_view data;
};

class SseParser {
 public:
  // Returns false to stop parsing (Feed then returns false too).
  using Callback = std::function<bool(const SseEvent&)>;

  explicit SseParser(Callback cb, size_t max_event_bytes = 16u << 20)
      : cb_(std::move(cb)), max_event_bytes_(max_event_bytes) {}

  // Parses more bytes. Returns false if the callback asked to stop or an event grew
  // beyond max_event_bytes (then error() is set).
  bool Feed(std::string_view bytes);

  // True when some bytes of an unfinished line or event are buffered.
  bool HasPartial() const { return !line_.empty() || !data_.empty() || has_data_; }
  bool error() const { return error_; }
  size_t events() const { return events_; }

 private:
  bool ProcessLine(std::string_view line);
  bool Dispatch();

  Callback cb_;
  size_t max_event_bytes_;
  std::string line_;   // the current, unfinished line
  std::string data_;   // data of the current event
  std::string event_;  // event name of the current event
  bool has_data_ = false;
  bool last_was_cr_ = false;  // the previous chunk ended in \r: skip a leading \n
  bool error_ = false;
  size_t events_ = 0;
};

// The SSE text of one event: `event:` when named, data split into `data:` lines, no id.
std::string FormatSseEvent(std::string_view event, std::string_view data);

}  // namespace signalbox
