-- Schema 2: loads that a process started and never finished (it crashed or was killed while
-- loading). Counted at each start; at 2 in a row the model is not loaded again automatically
-- (status 'error' with the reason), so a model that crashes the loader cannot crash-loop the
-- service. Reset whenever a load ends (loaded, failed cleanly, unloaded).
ALTER TABLE models ADD COLUMN interrupted_loads INTEGER NOT NULL DEFAULT 0;
