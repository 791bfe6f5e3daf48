// Helpers shared by ledger.cc (write side) and ledger_read.cc (read side). Internal to
// budget/: includes SQLite's header.
#pragma once

#include <fmt/format.h>
#include <sqlite3.h>

#include <string>

#include "budget/ledger_record.h"

namespace signalbox::budget::internal {

inline void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

// The in-memory identity of a record: (request_id, attempt).
inline std::string RecordKey(const AttemptRecord& r) {
  return fmt::format("{}\x1f{}", r.request_id, r.attempt);
}

}  // namespace signalbox::budget::internal
