// Spool: the ledger's append-only record file, the only disk write on the request path.
//
// Ledger::Append() writes a request's records to the spool with one write(2) and returns.
// Once write() returned, the bytes are in the OS page cache: they survive a crash of the
// process (kill -9, OOM kill, segfault), which is the guarantee SQLite's WAL gives with
// synchronous=NORMAL, without paying a SQLite transaction per request. The ledger's
// applier thread moves spooled records into SQLite in large transactions.
//
// Files: `<ledger>.spool` takes appends. To apply, the ledger renames it to
// `<ledger>.spool.old` (and starts a fresh `.spool`), commits the old file's records to
// SQLite with INSERT OR IGNORE, then deletes it. A crash at any step leaves records in a
// spool file and/or in SQLite, never in neither: the next start commits both files again
// (duplicates are ignored) before serving.
//
// Format: one record per line, `v1` then the fields separated by tabs, with `\t`, `\n`,
// `\r` and `\\` escaped in text fields. A final line without its newline (a write cut
// short by a crash) is ignored: its Append() never returned.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "budget/ledger_record.h"
#include "common/status.h"

namespace signalbox::budget {

// Appends the spool line of `r` (with its newline) to `out`.
void EncodeSpoolLine(const AttemptRecord& r, std::string* out);

struct SpoolContent {
  std::vector<AttemptRecord> records;
  int bad_lines = 0;  // complete lines that do not parse (never written by signalbox)
};

// Parses a spool file's bytes. A final line without a newline is not a record.
SpoolContent DecodeSpool(std::string_view data);

// Reads and parses the spool file at `path`; a missing file is empty.
StatusOr<SpoolContent> ReadSpoolFile(const std::string& path);

// The spool file being appended to. Not thread-safe: the ledger serialises callers.
class SpoolFile {
 public:
  // Test hook: called before each write; a non-zero errno fails the write as if write(2)
  // had returned it.
  using FaultHook = std::function<int()>;

  SpoolFile() = default;
  ~SpoolFile();
  SpoolFile(SpoolFile&& other) noexcept;
  SpoolFile& operator=(SpoolFile&& other) noexcept;
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  // Opens (creating) `path` for appending.
  static StatusOr<SpoolFile> Open(const std::string& path, FaultHook fault = nullptr);

  // Writes `bytes` at the end in one write(2). On failure (or a short write) the file is
  // cut back to its previous length, so a failed append leaves nothing behind.
  Status Append(std::string_view bytes);

  // Renames the file to `to` and starts an empty file at the original path. On failure
  // the file keeps its name and content.
  Status Rotate(const std::string& to);

  // Bytes appended since the last Open() or Rotate().
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  FaultHook fault_;
};

}  // namespace signalbox::budget
