#!/bin/bash
# Container entrypoint: turns the DIFFULEX_* environment variables into `diffulex serve` flags
# and execs the server (PID 1 then is diffulex itself, so SIGTERM reaches it directly).
# No arguments, or arguments starting with '-', run the server (extra flags are appended and
# win over the variables); anything else runs as a command, e.g. `diffulex generate ...`.
set -euo pipefail

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
  exec "$@"
fi

args=(serve
  --host "${DIFFULEX_HOST:-0.0.0.0}"
  --port "${DIFFULEX_PORT:-8080}"
  --db "${DIFFULEX_DB:-/data/diffulex.db}")
# Whitespace-separated [NAME=]DIR entries, each loaded at start; empty loads none.
read -r -a models <<<"${DIFFULEX_MODELS-dlx-demo-llada=/opt/diffulex/models/default}"
for m in "${models[@]}"; do args+=(--model "$m"); done
[ "${#models[@]}" -gt 0 ] || args+=(--no-default-model)
[ -z "${DIFFULEX_MODELS_DIR-/models}" ] || args+=(--models-dir "${DIFFULEX_MODELS_DIR-/models}")
[ -z "${DIFFULEX_THREADS:-}" ] || args+=(--threads "$DIFFULEX_THREADS")
[ -z "${DIFFULEX_DEVICE:-}" ] || args+=(--device "$DIFFULEX_DEVICE")
# DIFFULEX_API_KEY is read by diffulex itself, so the key never shows in the process list.

exec diffulex "${args[@]}" "$@"
