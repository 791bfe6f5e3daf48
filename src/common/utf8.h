// UTF-8 validation for text that leaves the gateway (JSON logs, Prometheus labels):
// overlong forms, surrogates and code points above U+10FFFF are invalid.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace signalbox {

// Length of the valid UTF-8 sequence that starts at s[i], or 0 when it is invalid.
// REQUIRES: i < s.size().
size_t Utf8SeqLen(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// Appends the sequence that starts at s[i] to `out`, or U+FFFD for an invalid byte, and
// returns how many bytes of `s` it consumed. REQUIRES: i < s.size().
size_t AppendUtf8Seq(std::string& out, std::string_view s, size_t i);

// `s` with each byte that does not start a valid sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

}  // namespace signalbox
