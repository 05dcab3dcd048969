#include "service/db/sqlite.h"

#include "engine/util/error.h"

namespace dlx::db {
namespace {

// Failures of the storage under the database (disk full, I/O errors, a read-only or vanished
// file, a lock held too long, no memory) are kUnavailable: the request may succeed later and
// callers retry or report them as such. Anything else (a constraint, a malformed statement)
// is a bug: kInternal.
Error sqlite_error(sqlite3* db, int rc, const std::string& message) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Error(ErrorCode::kUnavailable,
                   "the database cannot be written now (" + message + "): check the disk holding " +
                       (db && sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main")
                                                              : std::string("it")))
          .with_reason("database_unavailable")
          .with_retry_after(5);
    default:
      return Error(ErrorCode::kInternal, message);
  }
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw sqlite_error(db, db ? sqlite3_extended_errcode(db) : SQLITE_ERROR,
                     "sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : "?"));
}

}  // namespace

Connection::Connection(const std::string& path) : path_(path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);  // sqlite3_open_v2 returns a handle even on failure; it must be closed
  if (rc != SQLITE_OK) {
    throw Error(ErrorCode::kNotFound, "cannot open database " + path + ": " +
                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
}

void Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (const int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_.get());
    sqlite3_free(err);
    throw sqlite_error(db_.get(), rc, "sqlite: " + msg);
  }
}

Statement::Statement(Connection& conn, std::string_view sql) : conn_(conn) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(conn.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    fail(conn.get(), "prepare '" + std::string(sql.substr(0, 60)) + "'");
  }
  stmt_.reset(raw);
}

Statement& Statement::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(stmt_.get(), i, v) != SQLITE_OK) fail(conn_.get(), "bind");
  return *this;
}

Statement& Statement::bind(int i, double v) {
  if (sqlite3_bind_double(stmt_.get(), i, v) != SQLITE_OK) fail(conn_.get(), "bind");
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  if (sqlite3_bind_text64(stmt_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK) {
    fail(conn_.get(), "bind");
  }
  return *this;
}

Statement& Statement::bind_null(int i) {
  if (sqlite3_bind_null(stmt_.get(), i) != SQLITE_OK) fail(conn_.get(), "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(conn_.get(), "step");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Statement::is_null(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

int64_t Statement::integer(int col) const {
  return sqlite3_column_int64(stmt_.get(), col);
}

double Statement::real(int col) const {
  return sqlite3_column_double(stmt_.get(), col);
}

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Statement::text_or_null(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<int64_t> Statement::integer_or_null(int col) const {
  if (is_null(col)) return std::nullopt;
  return integer(col);
}

}  // namespace dlx::db
