// The JSON access log: one line per finished request, with exactly the fields SPEC.md
// names, in that order, then `deployment` (which copy of the backend answered, issue 13):
//
//   {"ts":"2026-11-26T06:12:44.123Z","request_id":"...","key":"team-a","model":"auto",
//    "backend":"small","rule":"default","tier":"simple","score":0.12,"status":200,
//    "duration_ms":812.5,"ttft_ms":null,"input_tokens":31,"output_tokens":120,
//    "cost_usd":0.0000391,"attempts":1,"error":null,"deployment":"0"}
//
// A field that does not apply is null (tier and score for an explicit model, ttft_ms
// for a non-streaming request, tokens and cost when no upstream answered, error when
// there was none). AccessRecord has no field that could hold a prompt, a completion or
// a secret, so none can reach the log.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>

#include "common/status.h"

namespace signalbox::metrics {

// The most bytes of one string field of an access-log line; longer ones are cut and
// marked "...[cut N bytes]".
inline constexpr size_t kMaxAccessFieldBytes = 256;

// One request's log line before formatting. A plain value, one per request.
struct AccessRecord {
  // The line's time; left at the epoch, Write() uses the current time.
  std::chrono::system_clock::time_point ts{};
  std::string request_id;
  std::optional<std::string> key;      // key id ("anonymous" without keys); null if unknown
  std::optional<std::string> model;    // as the client requested it; null if unreadable
  std::optional<std::string> backend;  // the backend that answered (or was tried last)
  std::optional<std::string> rule;     // the routing rule that matched
  std::optional<std::string> tier;     // classified requests only
  std::optional<double> score;         // classified requests only
  int status = 0;                      // HTTP status sent to the client
  double duration_ms = 0;              // accept to last byte
  std::optional<double> ttft_ms;       // streaming requests only
  std::optional<int64_t> input_tokens;
  std::optional<int64_t> output_tokens;
  std::optional<double> cost_usd;
  int attempts = 0;                  // upstream attempts, retries and fallbacks included
  std::optional<std::string> error;  // the OpenAI error code or type sent, if any
  // The deployment of `backend` that answered (or was tried last): its name, else its
  // index ("0" for a backend with one url); null when no upstream was tried.
  std::optional<std::string> deployment;
};

// The record as one JSON object, without the trailing newline. Durations are rounded to
// the microsecond; score and cost keep full precision.
std::string FormatAccessRecord(const AccessRecord& record);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-26T06:12:44.123Z.
std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t);

// Writes access-log lines to stdout or to a file. Thread-safe: any number of request
// threads call Write() while the signal thread calls Reopen(). Each line goes out in
// one write() on an O_APPEND descriptor, so lines never interleave or split.
class AccessLog {
 public:
  // `path` empty: stdout. Otherwise the file is opened for append and created with
  // mode 0640 (less the umask). Fails when the file cannot be opened.
  static StatusOr<std::unique_ptr<AccessLog>> Open(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void Write(const AccessRecord& record);

  // For log rotation (SIGUSR1): opens `path` anew and swaps it in, so lines written
  // after Reopen() returns land in the new file; writers in flight finish on the old
  // one. On failure the old file stays in use. No-op for stdout. Not async-signal-safe:
  // call it from a thread, not from a signal handler.
  Status Reopen();

  const std::string& path() const { return path_; }

 private:
  AccessLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  // Writers hold it shared (they do not serialize on each other); Reopen() holds it
  // exclusively only to swap the descriptor.
  std::shared_mutex mu_;
  int fd_;  // guarded by mu_
};

}  // namespace signalbox::metrics
