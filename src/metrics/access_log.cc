#include "metrics/access_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>

#include "common/json_writer.h"
#include "common/log.h"

namespace signalbox::metrics {
namespace {

constexpr int kStdout = 1;

StatusOr<int> OpenForAppend(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Unavailable(fmt::format("cannot open access log {}: {}", path, std::strerror(errno)));
  }
  return fd;
}

// Milliseconds with three decimals: enough for a log and short to read.
double RoundMicros(double ms) { return std::round(ms * 1000.0) / 1000.0; }

// Client-controlled strings (the requested model) are cut to kMaxAccessFieldBytes, so a
// 4 MiB model name costs the log 256 bytes, marked as cut.
void OptionalString(JsonWriter& w, std::string_view k, const std::optional<std::string>& v) {
  if (!v) {
    w.Key(k).Null();
    return;
  }
  std::string scratch;
  w.Field(k, CutForLog(*v, kMaxAccessFieldBytes, &scratch));
}

void OptionalDouble(JsonWriter& w, std::string_view k, std::optional<double> v) {
  w.Key(k);
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

void OptionalInt(JsonWriter& w, std::string_view k, std::optional<int64_t> v) {
  w.Key(k);
  if (v) {
    w.Int(*v);
  } else {
    w.Null();
  }
}

}  // namespace

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  // Floor division so instants before a whole second (and before 1970) stay correct.
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t frac = ms - secs * 1000;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string FormatAccessRecord(const AccessRecord& r) {
  auto ts =
      r.ts == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now() : r.ts;
  std::string out;
  out.reserve(384);
  JsonWriter w(out);
  w.BeginObject();
  w.Field("ts", FormatRfc3339Millis(ts));
  OptionalString(w, "request_id", r.request_id);
  OptionalString(w, "key", r.key);
  OptionalString(w, "model", r.model);
  OptionalString(w, "backend", r.backend);
  OptionalString(w, "rule", r.rule);
  OptionalString(w, "tier", r.tier);
  OptionalDouble(w, "score", r.score);
  w.Field("status", r.status);
  w.Field("duration_ms", RoundMicros(r.duration_ms));
  OptionalDouble(w, "ttft_ms", r.ttft_ms ? std::optional(RoundMicros(*r.ttft_ms)) : std::nullopt);
  OptionalInt(w, "input_tokens", r.input_tokens);
  OptionalInt(w, "output_tokens", r.output_tokens);
  OptionalDouble(w, "cost_usd", r.cost_usd);
  w.Field("attempts", r.attempts);
  OptionalString(w, "error", r.error);
  OptionalString(w, "deployment", r.deployment);
  w.EndObject();
  return out;
}

StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path.empty()) return std::unique_ptr<AccessLog>(new AccessLog(path, kStdout));
  StatusOr<int> fd = OpenForAppend(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<AccessLog>(new AccessLog(path, *fd));
}

AccessLog::~AccessLog() {
  if (fd_ != kStdout) ::close(fd_);
}

void AccessLog::Write(const AccessRecord& record) {
  std::string line = FormatAccessRecord(record);
  std::shared_lock lock(mu_);
  WriteLine(fd_, line);
}

Status AccessLog::Reopen() {
  if (path_.empty()) return Status::Ok();
  // Open before taking the lock: writers wait only for the swap, not for the file system.
  StatusOr<int> fd = OpenForAppend(path_);
  if (!fd.ok()) return fd.status();
  int old;
  {
    std::unique_lock lock(mu_);
    old = fd_;
    fd_ = *fd;
  }
  // No writer can still be using `old`: they all hold mu_ shared while writing.
  ::close(old);
  return Status::Ok();
}

}  // namespace signalbox::metrics
