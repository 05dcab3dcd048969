#!/usr/bin/env bash
# The README's first command: sets up and builds (scripts/build.sh), then runs DiffuLex Edge on
# the bundled default model (models/dlx-demo-llada, the trained demo model): it serves
# it over HTTP on 127.0.0.1:8080 when this build has `diffulex serve`, else it runs one text
# generation. Extra arguments go to `diffulex serve` (e.g. --port 9000, --model NAME=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bin=build/service/diffulex
model=models/dlx-demo-llada
if ! "$bin" serve --help >/dev/null 2>&1; then
  echo "Generating on $model (this build has no HTTP service):"
  exec "$bin" generate --model "$model" --prompt "Tell me a fortune." --chat
fi
url="http://127.0.0.1:8080"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--port" ]; then j=$((i + 1)); url="http://127.0.0.1:${!j}"; fi
done
echo "DiffuLex Edge serves $model as dlx-demo-llada at $url (Ctrl-C stops). Open $url/ or try:"
echo "  curl $url/v1/chat/completions --json \\"
echo "    '{\"model\":\"dlx-demo-llada\",\"messages\":[{\"role\":\"user\",\"content\":\"sort: 5391\"}]}'"
# No --model: serve loads the bundled model under its folder's name, dlx-demo-llada.
exec "$bin" serve --host 127.0.0.1 --port 8080 --db build/diffulex.db "$@"
