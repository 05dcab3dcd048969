-- Schema 4: each model's file format ('safetensors' for a Hugging Face folder, 'gguf' for a
-- single GGUF file), shown by GET /v1/models next to its weight type. Rows written by schema 3
-- were all folders.
ALTER TABLE models ADD COLUMN format TEXT NOT NULL DEFAULT 'safetensors';
