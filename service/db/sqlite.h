// RAII owners of sqlite3* and sqlite3_stmt*, with typed bind/column helpers. Every failure
// becomes a dlx::Error carrying SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dlx::db {

class Connection {
 public:
  // Opens (creating if needed) the database file. Throws Error kNotFound / kInternal.
  explicit Connection(const std::string& path);
  sqlite3* get() const { return db_.get(); }
  // Runs one or more statements with no results (DDL, PRAGMA assignments, BEGIN/COMMIT).
  void exec(std::string_view sql);
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  const std::string& path() const { return path_; }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
  std::string path_;
};

class Statement {
 public:
  Statement(Connection& conn, std::string_view sql);

  // Binding (1-based, as in SQLite). Returns *this so binds chain.
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind_null(int i);
  Statement& bind(int i, const std::optional<std::string>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }
  Statement& bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }

  // Advances; true while a row is available. Throws on errors.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();

  bool is_null(int col) const;
  int64_t integer(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::string> text_or_null(int col) const;
  std::optional<int64_t> integer_or_null(int col) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Connection& conn_;
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

}  // namespace dlx::db
