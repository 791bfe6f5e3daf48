// OpenAI Responses API shapes written by signalbox-mock: the `response` object and the
// semantic stream events (response.created ... response.completed).
//
// Pure functions of their arguments; thread-safe. Every stream event carries `type`
// first and `sequence_number` last; the caller numbers them in stream order and frames
// them as "event: <type>\ndata: <json>\n\n". A Generation renders as one output item:
// a `message` with one `output_text` part, or, when it is a tool call, a
// `function_call` item.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mock/generation.h"

namespace signalbox::mock {

// resp_mock<serial>, msg_mock<serial> / fc_mock<serial>, call_mock<serial>.
std::string ResponseId(uint64_t serial);
std::string ResponsesItemId(const Generation& g);

// "completed", or "incomplete" when max_output_tokens cut the answer.
const char* ResponseFinalStatus(const Generation& g);

// The response object. `status` "in_progress" renders no output and "usage": null
// (as in response.created); any other status renders the finished output and usage.
std::string ResponseObject(const Generation& g, std::string_view status);

// {"type":<type>,"response":<object>,"sequence_number":seq} for response.created,
// response.in_progress, response.completed and response.incomplete.
std::string ResponseLifecycleEvent(const Generation& g, std::string_view type,
                                   std::string_view status, int64_t seq);
// response.output_item.added (done = false) and response.output_item.done.
std::string OutputItemEvent(const Generation& g, bool done, int64_t seq);
// response.content_part.added (done = false) and response.content_part.done.
std::string ContentPartEvent(const Generation& g, bool done, int64_t seq);
// response.output_text.delta of token i, and response.output_text.done.
std::string OutputTextDelta(const Generation& g, int i, int64_t seq);
std::string OutputTextDone(const Generation& g, int64_t seq);
// response.function_call_arguments.delta of piece i, and .done.
std::string FunctionArgumentsDelta(const Generation& g, int i, int64_t seq);
std::string FunctionArgumentsDone(const Generation& g, int64_t seq);
// The in-band error event: {"type":"error","code":"server_error",
// "message":"mock upstream error","param":null,"sequence_number":seq}.
std::string ResponsesErrorEvent(int64_t seq);

}  // namespace signalbox::mock
