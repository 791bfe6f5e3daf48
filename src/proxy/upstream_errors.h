// Turning an upstream's 4xx error body into one the client may see, in the shape of the
// API the client called (an OpenAI or an Anthropic error body reads the same way): the
// upstream's own message and code kept (they explain the problem, e.g.
// context_length_exceeded), URLs scrubbed, length bounded.
#pragma once

#include <string>
#include <string_view>

#include "openai/error.h"

namespace signalbox {

std::string SanitizedUpstreamError(int status, std::string_view body,
                                   ErrorShape shape = ErrorShape::kOpenAI);

// Replaces every http:// or https:// URL in `text` with "[url]".
std::string ScrubUrls(std::string_view text);

}  // namespace signalbox
