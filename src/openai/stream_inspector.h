// StreamInspector: what each event of an upstream stream means to the gateway, for the
// three stream dialects it relays — chat/completions chunks, Responses events and
// Anthropic Messages events — and the one table per dialect of which event ends a
// complete answer, which is an error, and where usage and generated text sit.
//
// One-per-stream, not thread-safe; pure (no I/O). The relay (proxy/relay.h) decides what
// to do with each event; this class only reads it. Events are never rewritten.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "openai/request.h"
#include "openai/response.h"
#include "openai/sse_parser.h"

namespace signalbox {

struct EventInfo {
  enum class Kind {
    kContent,    // relay it (first one commits the response)
    kUsageOnly,  // chat: the include_usage chunk the gateway asked for
    kTerminal,   // the end of a complete answer: [DONE], message_stop, response.completed
    kError,      // an error event (or a Responses response.failed)
    kMalformed,  // not a JSON object
  };
  Kind kind = Kind::kContent;
  int64_t output_chars = 0;   // generated text it carries
  std::string error_message;  // kError: the upstream's message (for logs only)
};

class StreamInspector {
 public:
  explicit StreamInspector(Endpoint endpoint) : endpoint_(endpoint) {}

  EventInfo Inspect(const SseEvent& e);

  // Usage as reported so far (Messages reports input at the start, output at the end).
  const std::optional<Usage>& usage() const { return usage_; }
  // Responses: the response id (from response.created or the final event).
  const std::string& response_id() const { return response_id_; }
  // Whether the dialect ends every complete stream with its terminal event (Messages,
  // Responses); a chat stream may end without [DONE].
  bool requires_terminal() const;

  // The dialect's in-band error event, sent after the commit point:
  //   chat/completions: data: {"error": {"message", "type", "param", "code"}}
  //   Responses:        event: error / {"type":"error","code","message","param","sequence_number"}
  //   Messages:         event: error / {"type":"error","error":{"type":"api_error","message"}}
  std::string ErrorEvent(std::string_view message, std::string_view code) const;

 private:
  EventInfo InspectMessages(const SseEvent& e);
  EventInfo InspectResponses(const SseEvent& e);

  Endpoint endpoint_;
  std::optional<Usage> usage_;
  std::string response_id_;
  int64_t last_sequence_ = -1;
  // Messages: the parts of usage as reported (input excludes cache reads and writes).
  int64_t input_ = 0, cache_read_ = 0, cache_write_ = 0, output_ = 0;
};

// What a plain (non-streaming) 2xx body of `endpoint` holds; see BodyInfo.
BodyInfo InspectBodyFor(Endpoint endpoint, std::string_view body);

}  // namespace signalbox
