#include "budget/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <utility>

namespace signalbox::budget {
namespace {

constexpr std::string_view kVersion = "v1";
constexpr int kFields = 11;  // the version and the ten fields of a record

void AppendEscaped(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\\':
        out->append("\\\\");
        break;
      default:
        out->push_back(c);
    }
  }
}

bool Unescape(std::string_view field, std::string* out) {
  out->clear();
  out->reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i == field.size()) return false;
    switch (field[i]) {
      case 't':
        out->push_back('\t');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case '\\':
        out->push_back('\\');
        break;
      default:
        return false;
    }
  }
  return true;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool DecodeLine(std::string_view line, AttemptRecord* r) {
  std::string_view f[kFields];
  int n = 0;
  size_t start = 0;
  while (n < kFields) {
    size_t tab = line.find('\t', start);
    f[n++] =
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  if (n != kFields || f[0] != kVersion || line.find('\t', start) != std::string_view::npos) {
    return false;
  }
  int estimated = 0;
  return ParseNumber(f[1], &r->ts_ms) && Unescape(f[2], &r->request_id) &&
         ParseNumber(f[3], &r->attempt) && Unescape(f[4], &r->key_id) &&
         Unescape(f[5], &r->backend) && ParseNumber(f[6], &r->input_tokens) &&
         ParseNumber(f[7], &r->output_tokens) && ParseNumber(f[8], &r->cost_usd) &&
         ParseNumber(f[9], &estimated) && (estimated == 0 || estimated == 1) &&
         (r->estimated = estimated == 1, Unescape(f[10], &r->outcome));
}

Status Errno(std::string_view what, const std::string& path, int err) {
  std::string msg = fmt::format("ledger spool {}: {}: {}", path, what, strerror(err));
  return err == ENOSPC || err == EDQUOT || err == EIO ? Unavailable(msg) : Internal(msg);
}

}  // namespace

void EncodeSpoolLine(const AttemptRecord& r, std::string* out) {
  // fmt's "{}" for a double is the shortest text that parses back to the same value.
  fmt::format_to(std::back_inserter(*out), "{}\t{}\t", kVersion, r.ts_ms);
  AppendEscaped(r.request_id, out);
  fmt::format_to(std::back_inserter(*out), "\t{}\t", r.attempt);
  AppendEscaped(r.key_id, out);
  out->push_back('\t');
  AppendEscaped(r.backend, out);
  fmt::format_to(std::back_inserter(*out), "\t{}\t{}\t{}\t{}\t", r.input_tokens, r.output_tokens,
                 r.cost_usd, r.estimated ? 1 : 0);
  AppendEscaped(r.outcome, out);
  out->push_back('\n');
}

SpoolContent DecodeSpool(std::string_view data) {
  SpoolContent content;
  size_t start = 0;
  for (;;) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) break;  // no line, or a torn final line
    AttemptRecord r;
    if (DecodeLine(data.substr(start, nl - start), &r)) {
      content.records.push_back(std::move(r));
    } else {
      content.bad_lines += 1;
    }
    start = nl + 1;
  }
  return content;
}

StatusOr<SpoolContent> ReadSpoolFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return SpoolContent();
    return Errno("open", path, errno);
  }
  std::string data;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Errno("read", path, err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return DecodeSpool(data);
}

SpoolFile::~SpoolFile() {
  if (fd_ >= 0) ::close(fd_);
}

SpoolFile::SpoolFile(SpoolFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      fault_(std::move(other.fault_)) {}

SpoolFile& SpoolFile::operator=(SpoolFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    fault_ = std::move(other.fault_);
  }
  return *this;
}

StatusOr<SpoolFile> SpoolFile::Open(const std::string& path, FaultHook fault) {
  SpoolFile f;
  f.path_ = path;
  f.fault_ = std::move(fault);
  f.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (f.fd_ < 0) return Errno("open", path, errno);
  struct stat st;
  if (::fstat(f.fd_, &st) != 0) return Errno("stat", path, errno);
  f.size_ = st.st_size;
  return f;
}

Status SpoolFile::Append(std::string_view bytes) {
  if (fd_ < 0) return FailedPrecondition(fmt::format("ledger spool {}: not open", path_));
  int err = fault_ ? fault_() : 0;
  ssize_t n = -1;
  if (err == 0) {
    do {
      n = ::write(fd_, bytes.data(), bytes.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) err = errno;
  }
  if (n == static_cast<ssize_t>(bytes.size())) {
    size_ += n;
    return Status::Ok();
  }
  if (n > 0) {
    // A short write (disk full mid-way): cut the partial line off so that the next append
    // does not glue onto it.
    if (::ftruncate(fd_, size_) != 0)
      err = errno;
    else
      err = ENOSPC;
  }
  return Errno("write", path_, err);
}

Status SpoolFile::Rotate(const std::string& to) {
  if (::rename(path_.c_str(), to.c_str()) != 0) return Errno("rename", path_, errno);
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    int err = errno;
    (void)::rename(to.c_str(), path_.c_str());  // keep appending to the old file
    return Errno("open", path_, err);
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  return Status::Ok();
}

}  // namespace signalbox::budget
