#!/usr/bin/env bash
# Dependencies point one way: service -> engine -> backend -> kernels, and inside the service
# only service/http/ (and the CLI's HTTP client commands) know HTTP. Fails naming each include
# that points the wrong way. Run by ctest (label unit) and usable by hand.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
bad=0
check() {  # check DIR PATTERN WHY
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$1" --include=*.h --include=*.cpp --include=*.inc || true)
  if [[ -n "$hits" ]]; then
    echo "layering: $1 must not include $2 ($3):"
    echo "$hits"
    bad=1
  fi
}
check engine 'service/' 'the engine knows nothing of the service'
check engine/backend 'engine/(decode|model|tokenizer|devtools)/|engine/engine\.h' 'backends run tensors, not models'
check engine/formats 'engine/(decode|model|tokenizer|backend)/' 'file formats stand alone'
for d in service/jobs service/db service/metrics; do
  check "$d" 'service/http/|httplib' 'only service/http/ knows HTTP'
done
check service/db 'service/(jobs|http)/' 'the database layer sits below the jobs'
exit $bad
