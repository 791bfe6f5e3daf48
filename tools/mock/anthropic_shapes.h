// Anthropic Messages API shapes written by signalbox-mock: the message body, the
// stream events (message_start ... message_stop), count_tokens and the error body.
//
// Pure functions of their arguments; thread-safe. The caller frames stream events as
// "event: <type>\ndata: <json>\n\n". A Generation renders as one content block at
// index 0: a `text` block, or, when it is a tool call, a `tool_use` block (no text
// before it) with stop_reason "tool_use".
//
// Usage follows Anthropic's split: input_tokens counts the uncached input only, beside
// cache_read_input_tokens and cache_creation_input_tokens. The Messages API always
// reports usage, so an omitted usage (x-mock-usage: none, --no-usage) renders zeros.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mock/generation.h"

namespace signalbox::mock {

// Anthropic's error type for an HTTP status: invalid_request_error (400),
// authentication_error (401), permission_error (403), not_found_error (404),
// request_too_large (413), rate_limit_error (429), overloaded_error (529), api_error
// (other 5xx).
std::string_view AnthropicErrorType(int status);
// {"type":"error","error":{"type":<type>,"message":<message>}}
std::string AnthropicErrorBody(std::string_view type, std::string_view message);

// msg_mock<serial>, toolu_mock<serial>.
std::string MessageId(uint64_t serial);

// "end_turn", "max_tokens" when max_tokens cut the answer, or "tool_use".
const char* StopReason(const Generation& g);

// The non-streaming message.
std::string MessageBody(const Generation& g);
// {"input_tokens":N}
std::string CountTokensBody(int64_t input_tokens);

// Stream events, in order: message_start (empty content, stop_reason null, usage with
// output_tokens 1), content_block_start, ping, one content_block_delta per token
// (text_delta, or input_json_delta for a tool call), content_block_stop, message_delta
// (stop_reason and the output_tokens), message_stop.
std::string MessageStartEvent(const Generation& g);
std::string ContentBlockStartEvent(const Generation& g);
std::string PingEvent();
std::string ContentBlockDeltaEvent(const Generation& g, int i);
std::string ContentBlockStopEvent();
std::string MessageDeltaEvent(const Generation& g);
std::string MessageStopEvent();

}  // namespace signalbox::mock
