-- Schema 3: each model's context length (its config's max positions), shown by GET /v1/models
-- and /api/show so clients know how long a prompt may be. 0 until the folder is read again
-- (the next load or registration) for rows written by schema 2.
ALTER TABLE models ADD COLUMN context_length INTEGER NOT NULL DEFAULT 0;
