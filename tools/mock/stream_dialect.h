// StreamDialect: the events of one SSE stream in one API's dialect, so one writer
// (mock_stream.cc) paces, faults and ends the streams of every API the same way.
//
// A stream is: Opening() events, ContentCount() content deltas, then Closing() events.
// A fault replaces the tail after N deltas with ErrorEvent() or Malformed() (or cuts
// it). The dialects:
//
//   chat:       role chunk | one chunk per token | [finishing chunk] [usage chunk] [DONE]
//   completion: -          | one chunk per token | [DONE]
//   responses:  response.created, response.in_progress, response.output_item.added,
//               response.content_part.added | response.output_text.delta per token |
//               response.output_text.done, response.content_part.done,
//               response.output_item.done, response.completed (or .incomplete)
//   messages:   message_start, content_block_start, ping | content_block_delta per
//               token | content_block_stop, message_delta, message_stop
//
// A tool call (agent APIs) streams its arguments as the deltas instead (see
// responses_shapes.h and anthropic_shapes.h).
//
// One-per-stream, used by one thread. The writer asks for each event just before it
// sends it, in stream order, so a dialect may number its events (Responses'
// sequence_number).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mock/generation.h"

namespace signalbox::mock {

// "event: <name>\ndata: <data>\n\n", or without the event line when name is empty.
struct SseEvent {
  std::string name;
  std::string data;
};

class StreamDialect {
 public:
  virtual ~StreamDialect() = default;
  // Content deltas of the whole stream.
  virtual int ContentCount() const = 0;
  virtual std::vector<SseEvent> Opening() = 0;
  virtual SseEvent Content(int i) = 0;
  virtual std::vector<SseEvent> Closing() = 0;
  // The in-band error of the error-event fault.
  virtual SseEvent ErrorEvent() = 0;
  // The malformed fault's tail: an event whose data is broken JSON, and what follows.
  virtual std::vector<SseEvent> Malformed() = 0;
};

// `include_usage`: the client set stream_options.include_usage (chat and completion).
std::unique_ptr<StreamDialect> MakeOpenAiDialect(Generation g, bool include_usage);
std::unique_ptr<StreamDialect> MakeResponsesDialect(Generation g);
std::unique_ptr<StreamDialect> MakeMessagesDialect(Generation g);

}  // namespace signalbox::mock
