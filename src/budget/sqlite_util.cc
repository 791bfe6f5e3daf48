#include "budget/sqlite_util.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace signalbox::budget {

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void SqliteFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = fmt::format("{}: {}", what, detail);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Unavailable(std::move(msg));
  }
  return Internal(std::move(msg));
}

StatusOr<SqliteDb> OpenSqlite(const std::string& path, int flags,
                              std::chrono::milliseconds busy_timeout) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);  // sqlite3_open_v2 may return a handle even on failure: free it
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, fmt::format("ledger {}: open", path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  return db;
}

Status ExecSql(sqlite3* db, const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return Status::Ok();
}

StatusOr<SqliteStmt> PrepareSql(sqlite3* db, std::string_view sql, std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return stmt;
}

StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, std::string_view what) {
  auto stmt = PrepareSql(db, sql, what);
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(stmt->get(), 0));
  if (rc == SQLITE_DONE) return Internal(fmt::format("{}: no row", what));
  return SqliteStatus(db, rc, what);
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* text = sqlite3_column_text(stmt, col);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

}  // namespace signalbox::budget
