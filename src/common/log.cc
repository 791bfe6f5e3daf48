#include "common/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

namespace signalbox {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_fd{2};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
void SetLogFd(int fd) { g_fd = fd; }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (name == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  if (name == "warning") {
    *out = LogLevel::kWarn;
    return true;
  }
  return false;
}

std::string NowRfc3339() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string_view CutForLog(std::string_view s, size_t max, std::string* scratch) {
  if (s.size() <= max) return s;
  size_t keep = max;
  // Back up over UTF-8 continuation bytes so the cut lands on a character boundary.
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  *scratch = fmt::format("{}...[cut {} bytes]", s.substr(0, keep), s.size() - keep);
  return *scratch;
}

void WriteLine(int fd, std::string& line) {
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log sink
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

LogLine::LogLine(LogLevel level, std::string_view msg)
    : enabled_(static_cast<int>(level) >= g_level.load(std::memory_order_relaxed)), w_(buf_) {
  if (!enabled_) return;
  w_.BeginObject().Field("ts", NowRfc3339()).Field("level", LevelName(level)).Field("msg", msg);
}

LogLine::~LogLine() {
  if (!enabled_) return;
  w_.EndObject();
  WriteLine(g_fd.load(std::memory_order_relaxed), buf_);
}

}  // namespace signalbox
