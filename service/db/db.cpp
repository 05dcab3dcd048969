#include "service/db/db.h"

#include "engine/util/error.h"
#include "service/db/migrations.h"

namespace dlx::db {
namespace {

constexpr const char* kGenerationColumns =
    "seq, id, model, endpoint, params, prompt, prompt_ids, prompt_tokens, created_at, status, "
    "output_text, output_ids, completion_tokens, forward_calls, finish_reason, timings, error, "
    "finished_at";

// The schema's CHECK constraints keep these columns to the known names; a row that breaks them
// was written by something else.
ModelStatus read_model_status(const std::string& s) {
  if (auto st = parse_model_status(s)) return *st;
  throw Error(ErrorCode::kInternal, "the models table holds an unknown status '" + s + "'");
}

GenerationStatus read_generation_status(const std::string& s) {
  if (auto st = parse_generation_status(s)) return *st;
  throw Error(ErrorCode::kInternal, "the generations table holds an unknown status '" + s + "'");
}

std::optional<FinishReason> read_finish_reason(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  if (auto r = parse_finish_reason(*s)) return r;
  throw Error(ErrorCode::kInternal,
              "the generations table holds an unknown finish_reason '" + *s + "'");
}

std::optional<std::string> name_or_null(const std::optional<FinishReason>& r) {
  if (!r) return std::nullopt;
  return std::string(finish_reason_name(*r));
}

std::optional<std::string> name_or_null(const std::optional<GenerationStatus>& st) {
  if (!st) return std::nullopt;
  return std::string(status_name(*st));
}

GenerationRow read_generation(const Statement& s) {
  GenerationRow r;
  r.seq = s.integer(0);
  r.start.id = s.text(1);
  r.start.model = s.text(2);
  r.start.endpoint = s.text(3);
  r.start.params = s.text(4);
  r.start.prompt = s.text_or_null(5);
  r.start.prompt_ids = s.text(6);
  r.start.prompt_tokens = s.integer(7);
  r.start.created_at = s.integer(8);
  r.finish.id = r.start.id;
  r.finish.status = read_generation_status(s.text(9));
  r.finish.output_text = s.text_or_null(10);
  r.finish.output_ids = s.text_or_null(11);
  r.finish.completion_tokens = s.integer_or_null(12);
  r.finish.forward_calls = s.integer_or_null(13);
  r.finish.finish_reason = read_finish_reason(s.text_or_null(14));
  r.finish.timings = s.text_or_null(15);
  r.finish.error = s.text_or_null(16);
  r.finish.finished_at = s.integer_or_null(17).value_or(0);
  return r;
}

}  // namespace

Db::Db(const std::string& path) : conn_(path) {
  sqlite3_busy_timeout(conn_.get(), kBusyTimeoutMs);
  {
    // journal_mode answers with the mode actually in effect (e.g. 'memory' for :memory:).
    Statement s(conn_, "PRAGMA journal_mode = WAL");
    if (s.step() && s.text(0) != "wal" && path != ":memory:") {
      throw Error(ErrorCode::kInternal,
                  path + ": cannot switch the database to WAL mode (got '" + s.text(0) + "')");
    }
  }
  // NORMAL is durable against process crashes in WAL mode (only a power loss can drop the last
  // commits), and avoids an fsync per log row.
  conn_.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  migrate();
}

int Db::schema_version() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(conn_, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

void Db::migrate() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto migrations = ordered_migrations(embedded_migrations());
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  int version = 0;
  {
    Statement s(conn_, "PRAGMA user_version");
    if (s.step()) version = static_cast<int>(s.integer(0));
  }
  if (version > latest) {
    throw Error(ErrorCode::kUnsupported,
                "database " + conn_.path() + " has schema version " + std::to_string(version) +
                    ", newer than this diffulex understands (up to " + std::to_string(latest) +
                    "): it was written by a newer diffulex. Run that version, or pass another "
                    "--db file.");
  }
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    // One transaction per migration: a failure leaves the database at the previous version.
    conn_.exec("BEGIN IMMEDIATE");
    try {
      conn_.exec(m.sql);
      conn_.exec("PRAGMA user_version = " + std::to_string(m.version));
      conn_.exec("COMMIT");
    } catch (const Error& e) {
      conn_.exec("ROLLBACK");
      throw Error(ErrorCode::kInternal,
                  conn_.path() + ": migration " + m.name + " failed: " + e.what());
    }
  }
}

template <class F>
void Db::write(F&& f) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    f();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnavailable) {
      std::lock_guard<std::mutex> h(health_mu_);
      write_error_ = e.what();
    }
    throw;
  }
  std::lock_guard<std::mutex> h(health_mu_);
  write_error_.reset();
}

std::optional<std::string> Db::write_error() const {
  std::lock_guard<std::mutex> h(health_mu_);
  return write_error_;
}

int Db::mark_interrupted(int64_t now_ms) {
  int changed = 0;
  write([&] {
    Statement s(conn_,
                "UPDATE generations SET status = 'interrupted', finished_at = ?1, "
                "error = 'the server stopped before the generation finished' "
                "WHERE status = 'running'");
    s.bind(1, now_ms).run();
    changed = conn_.changes();
  });
  return changed;
}

std::vector<std::string> Db::count_interrupted_loads(int max_in_a_row) {
  std::vector<std::string> quarantined;
  write([&] {
    conn_.exec("BEGIN IMMEDIATE");
    try {
      conn_.exec(
          "UPDATE models SET interrupted_loads = interrupted_loads + 1 WHERE status = 'loading'");
      {
        Statement s(conn_,
                    "SELECT name, interrupted_loads FROM models WHERE status = 'loading' AND "
                    "interrupted_loads >= ?1 ORDER BY name");
        s.bind(1, max_in_a_row);
        while (s.step()) quarantined.push_back(s.text(0));
      }
      Statement u(conn_,
                  "UPDATE models SET status = 'error', error = 'loading this model was interrupted "
                  "' || interrupted_loads || ' times in a row (the server crashed or was killed "
                  "while loading it), so it is not loaded automatically; POST /v1/models/' || "
                  "name || '/load to try again' WHERE status = 'loading' AND "
                  "interrupted_loads >= ?1");
      u.bind(1, max_in_a_row).run();
      conn_.exec("COMMIT");
    } catch (...) {
      conn_.exec("ROLLBACK");
      throw;
    }
  });
  return quarantined;
}

std::string Db::integrity_check() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(conn_, "PRAGMA integrity_check");
  return s.step() ? s.text(0) : "no answer";
}

std::vector<ModelRow> Db::models() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(conn_,
              "SELECT name, path, family, dtype, parameters, file_bytes, config_sha256, "
              "created_at, status, error, interrupted_loads, context_length, format FROM models "
              "ORDER BY created_at, name");
  std::vector<ModelRow> out;
  while (s.step()) {
    ModelRow r;
    r.name = s.text(0);
    r.path = s.text(1);
    r.family = s.text(2);
    r.dtype = s.text(3);
    r.parameters = s.integer(4);
    r.file_bytes = s.integer(5);
    r.config_sha256 = s.text(6);
    r.created_at = s.integer(7);
    r.status = read_model_status(s.text(8));
    r.error = s.text_or_null(9);
    r.interrupted_loads = s.integer(10);
    r.context_length = s.integer(11);
    r.format = s.text(12);
    out.push_back(std::move(r));
  }
  return out;
}

void Db::upsert_model(const ModelRow& r) {
  write([&] {
    Statement s(conn_,
                "INSERT INTO models (name, path, family, dtype, parameters, file_bytes, "
                "config_sha256, created_at, status, error, interrupted_loads, context_length, "
                "format) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,0,?11,?12) "
                "ON CONFLICT(name) DO UPDATE SET path = excluded.path, family = excluded.family, "
                "dtype = excluded.dtype, parameters = excluded.parameters, "
                "context_length = excluded.context_length, format = excluded.format, "
                "file_bytes = excluded.file_bytes, config_sha256 = excluded.config_sha256, "
                "status = excluded.status, error = excluded.error, "
                "interrupted_loads = CASE WHEN excluded.status = 'loading' "
                "THEN models.interrupted_loads ELSE 0 END");
    s.bind(1, r.name).bind(2, r.path).bind(3, r.family).bind(4, r.dtype).bind(5, r.parameters);
    s.bind(6, r.file_bytes)
        .bind(7, r.config_sha256)
        .bind(8, r.created_at)
        .bind(9, status_name(r.status));
    s.bind(10, r.error).bind(11, r.context_length).bind(12, r.format).run();
  });
}

void Db::set_model_status(const std::string& name, ModelStatus status,
                          const std::optional<std::string>& error) {
  write([&] {
    Statement s(conn_,
                "UPDATE models SET status = ?2, error = ?3, interrupted_loads = CASE WHEN ?2 = "
                "'loading' THEN interrupted_loads ELSE 0 END WHERE name = ?1");
    s.bind(1, name).bind(2, status_name(status)).bind(3, error).run();
  });
}

bool Db::delete_model(const std::string& name) {
  bool deleted = false;
  write([&] {
    Statement s(conn_, "DELETE FROM models WHERE name = ?1");
    s.bind(1, name).run();
    deleted = conn_.changes() > 0;
  });
  return deleted;
}

void Db::insert_generation(const GenerationStart& g) {
  write([&] {
    Statement s(conn_,
                "INSERT INTO generations (id, model, endpoint, params, prompt, prompt_ids, "
                "prompt_tokens, created_at, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,'running')");
    s.bind(1, g.id).bind(2, g.model).bind(3, g.endpoint).bind(4, g.params).bind(5, g.prompt);
    s.bind(6, g.prompt_ids).bind(7, g.prompt_tokens).bind(8, g.created_at).run();
  });
}

void Db::finish_generation(const GenerationFinish& g) {
  write([&] {
    Statement s(conn_,
                "UPDATE generations SET status = ?2, output_text = ?3, output_ids = ?4, "
                "completion_tokens = ?5, forward_calls = ?6, finish_reason = ?7, timings = ?8, "
                "error = ?9, finished_at = ?10 WHERE id = ?1");
    s.bind(1, g.id).bind(2, status_name(g.status)).bind(3, g.output_text).bind(4, g.output_ids);
    s.bind(5, g.completion_tokens).bind(6, g.forward_calls).bind(7, name_or_null(g.finish_reason));
    s.bind(8, g.timings).bind(9, g.error).bind(10, g.finished_at).run();
  });
}

std::optional<GenerationRow> Db::generation(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(conn_,
              std::string("SELECT ") + kGenerationColumns + " FROM generations WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_generation(s);
}

std::optional<int64_t> Db::generation_seq(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(conn_, "SELECT seq FROM generations WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return s.integer(0);
}

std::vector<GenerationRow> Db::generations(const GenerationQuery& q, bool* more) {
  std::lock_guard<std::mutex> lock(mu_);
  // NULL filters match everything, so one statement serves every combination.
  Statement s(conn_, std::string("SELECT ") + kGenerationColumns +
                         " FROM generations WHERE (?1 IS NULL OR model = ?1) AND "
                         "(?2 IS NULL OR status = ?2) AND (?3 IS NULL OR seq < ?3) "
                         "ORDER BY seq DESC LIMIT ?4");
  s.bind(1, q.model)
      .bind(2, name_or_null(q.status))
      .bind(3, q.before_seq)
      .bind(4, int64_t{q.limit} + 1);
  std::vector<GenerationRow> out;
  while (s.step()) out.push_back(read_generation(s));
  *more = static_cast<int>(out.size()) > q.limit;
  if (*more) out.pop_back();
  return out;
}

}  // namespace dlx::db
