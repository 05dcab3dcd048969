-- Schema 1: the model registry and the generation log (issue 5).
-- Times are unix milliseconds; JSON columns hold compact JSON text.

CREATE TABLE models (
  name          TEXT PRIMARY KEY,
  path          TEXT NOT NULL,            -- resolved model folder
  family        TEXT NOT NULL,            -- llada | dream | sdar | fast_dllm_v2
  dtype         TEXT NOT NULL,            -- weight dtype: f32 | f16 | bf16
  parameters    INTEGER NOT NULL,         -- parameter count
  file_bytes    INTEGER NOT NULL,         -- bytes of the weight files
  config_sha256 TEXT NOT NULL,            -- sha256 of config.json, hex
  created_at    INTEGER NOT NULL,
  -- last known state; 'loaded' models are loaded again at the next start
  status        TEXT NOT NULL CHECK (status IN ('unloaded', 'loading', 'loaded', 'error')),
  error         TEXT                      -- why the last load failed (status 'error')
);

CREATE TABLE generations (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, for paging
  id                TEXT NOT NULL UNIQUE,               -- the id the API returned
  model             TEXT NOT NULL,                      -- no foreign key: logs outlive models
  endpoint          TEXT NOT NULL,                      -- /v1/completions, /v1/chat/completions, /v1/generate
  params            TEXT NOT NULL,                      -- JSON: effective decoding params + request options
  prompt            TEXT,                               -- prompt text (rendered chat), NULL for prompt_ids
  prompt_ids        TEXT NOT NULL,                      -- JSON array
  output_text       TEXT,
  output_ids        TEXT,                               -- JSON array
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER,
  forward_calls     INTEGER,
  finish_reason     TEXT,                               -- stop | length
  timings           TEXT,                               -- JSON: queue_ms, run_ms, forward_ms, ...
  status            TEXT NOT NULL
                    CHECK (status IN ('running', 'ok', 'error', 'cancelled', 'interrupted')),
  error             TEXT,
  created_at        INTEGER NOT NULL,
  finished_at       INTEGER
);

CREATE INDEX generations_by_model ON generations (model, seq);
CREATE INDEX generations_by_status ON generations (status, seq);
