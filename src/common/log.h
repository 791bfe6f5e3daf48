// Operational log: one JSON object per line on stderr, with a level.
//
//   Log(LogLevel::kInfo, "config loaded").Field("version", 3).Field("path", path);
//
// The line is written when the temporary LogLine is destroyed, in a single write()
// so lines from different threads never interleave. Thread-safe. Never pass a secret
// or a prompt as a field.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "common/json_writer.h"

namespace signalbox {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "off".
bool ParseLogLevel(std::string_view name, LogLevel* out);
// Where lines go (default 2 = stderr). For tests.
void SetLogFd(int fd);

// The most bytes of one string field in a log line (operational and access log).
inline constexpr size_t kMaxLogFieldBytes = 1024;

// `s` when it has at most `max` bytes; else its first bytes up to `max` (never splitting a
// UTF-8 sequence) followed by "...[cut N bytes]", built in *scratch.
std::string_view CutForLog(std::string_view s, size_t max, std::string* scratch);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view msg);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& Field(std::string_view key, const T& value) {
    if (enabled_) w_.Field(key, value);
    return *this;
  }
  // Strings are cut to kMaxLogFieldBytes: a field may carry client-controlled text (a
  // path, a library error quoting a 4 MiB literal), and a log line must stay bounded.
  LogLine& Field(std::string_view key, std::string_view value) {
    if (enabled_) w_.Field(key, std::string_view(CutForLog(value, kMaxLogFieldBytes, &cut_)));
    return *this;
  }
  LogLine& Field(std::string_view key, const std::string& value) {
    return Field(key, std::string_view(value));
  }
  LogLine& Field(std::string_view key, const char* value) {
    return Field(key, std::string_view(value));
  }
  LogLine& Field(std::string_view key, size_t value) {
    if (enabled_) w_.Field(key, static_cast<int64_t>(value));
    return *this;
  }

 private:
  bool enabled_;
  std::string cut_;  // scratch for CutForLog
  std::string buf_;
  JsonWriter w_;
};

inline LogLine Log(LogLevel level, std::string_view msg) { return LogLine(level, msg); }

// Writes one complete line (a '\n' is appended) to fd with a single write(), retrying
// short writes. Shared by the operational and the access log.
void WriteLine(int fd, std::string& line);

// RFC 3339 UTC timestamp with milliseconds, e.g. 2026-11-26T06:12:44.123Z.
std::string NowRfc3339();

}  // namespace signalbox
