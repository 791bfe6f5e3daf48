// Thin RAII wrappers over the SQLite C API, for the ledger only.
//
// SqliteDb and SqliteStmt are move-only owners; not thread-safe: the ledger guards each
// connection with its own mutex. Every SQLite failure becomes a Status here, so no
// sqlite3 return code leaves this folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

// Declared here, defined by <sqlite3.h>: only budget/*.cc include SQLite's header.
struct sqlite3;
struct sqlite3_stmt;

namespace signalbox::budget {

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

// Maps an SQLite result code to a Status: busy and locked are kUnavailable (another
// process holds the write lock; try later), everything else kInternal. `what` names the
// operation and the file, e.g. "ledger ./state/ledger.db: append".
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

// Opens a connection with the given sqlite3_open_v2 flags and busy timeout.
StatusOr<SqliteDb> OpenSqlite(const std::string& path, int flags,
                              std::chrono::milliseconds busy_timeout);

// Runs one or more statements that return no rows of interest.
Status ExecSql(sqlite3* db, const char* sql, std::string_view what);

StatusOr<SqliteStmt> PrepareSql(sqlite3* db, std::string_view sql, std::string_view what);

// Runs a statement that returns one integer (e.g. PRAGMA user_version).
StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, std::string_view what);

// Text of column `col` of the current row ("" for NULL).
std::string ColumnText(sqlite3_stmt* stmt, int col);

}  // namespace signalbox::budget
