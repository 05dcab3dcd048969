// Db: the one owner of the service's SQLite database (WAL mode). Opening it applies the embedded
// migrations under PRAGMA user_version and refuses a database written by a newer binary. All
// statements run under one mutex; rows are plain structs.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/decode/finish_reason.h"
#include "service/db/sqlite.h"
#include "service/db/status.h"

namespace dlx::db {

struct ModelRow {
  std::string name, path, family, dtype;
  int64_t parameters = 0, file_bytes = 0;
  std::string config_sha256;
  int64_t created_at = 0;  // unix ms
  ModelStatus status = ModelStatus::kUnloaded;
  std::optional<std::string> error;
  int64_t interrupted_loads = 0;  // loads started by earlier processes that never finished
  int64_t context_length = 0;     // the config's max positions (0: not known yet)
  std::string format = "safetensors";  // "safetensors" (a folder) or "gguf" (one file)
};

// A generation as accepted (inserted with status 'running').
struct GenerationStart {
  std::string id, model, endpoint;
  std::string params;  // JSON
  std::optional<std::string> prompt;
  std::string prompt_ids;  // JSON array
  int64_t prompt_tokens = 0;
  int64_t created_at = 0;
};

// Its outcome (status ok | error | cancelled).
struct GenerationFinish {
  std::string id;
  GenerationStatus status = GenerationStatus::kRunning;
  std::optional<FinishReason> finish_reason;
  std::optional<std::string> output_text, output_ids, timings, error;
  std::optional<int64_t> completion_tokens, forward_calls;
  int64_t finished_at = 0;
};

struct GenerationRow {
  int64_t seq = 0;
  GenerationStart start;
  GenerationFinish finish;  // finish.status is the row's status ('running' until finished)
};

struct GenerationQuery {
  std::optional<std::string> model;
  std::optional<GenerationStatus> status;
  int limit = 20;
  std::optional<int64_t> before_seq;  // only rows older than this one
};

class Db {
 public:
  static constexpr int kBusyTimeoutMs = 5000;

  // Opens or creates the file, switches to WAL and migrates. Throws Error with the path and the
  // reason (newer schema, unreadable file, failed migration).
  explicit Db(const std::string& path);

  const std::string& path() const { return conn_.path(); }
  int schema_version();
  // Marks rows left 'running' by a process that died as 'interrupted'; returns how many.
  int mark_interrupted(int64_t now_ms);
  // "ok" when PRAGMA integrity_check passes, else its first message.
  std::string integrity_check();

  std::vector<ModelRow> models();
  // Writes the row. interrupted_loads is kept while the row says 'loading' and reset otherwise
  // (any other status means the load ended).
  void upsert_model(const ModelRow& row);
  void set_model_status(const std::string& name, ModelStatus status,
                        const std::optional<std::string>& error);
  bool delete_model(const std::string& name);
  // At startup: rows still 'loading' were being loaded when an earlier process stopped. Each
  // counts one more interrupted load; rows that reach `max_in_a_row` become 'error' with the
  // reason, and their names are returned (they are not loaded again automatically).
  std::vector<std::string> count_interrupted_loads(int max_in_a_row);

  // The message of the last failed write while writes fail (disk full, I/O error, read-only
  // file); empty once a write succeeds again. For /health and the metrics.
  std::optional<std::string> write_error() const;

  void insert_generation(const GenerationStart& g);
  void finish_generation(const GenerationFinish& g);
  std::optional<GenerationRow> generation(const std::string& id);
  std::optional<int64_t> generation_seq(const std::string& id);
  // Newest first. *more is set when older rows beyond `limit` exist.
  std::vector<GenerationRow> generations(const GenerationQuery& q, bool* more);

 private:
  void migrate();
  // Runs a write under mu_ and keeps write_error_ up to date.
  template <class F>
  void write(F&& f);

  std::mutex mu_;
  Connection conn_;
  mutable std::mutex health_mu_;  // not mu_: a write stuck on a busy lock must not block /health
  std::optional<std::string> write_error_;
};

}  // namespace dlx::db
