#!/usr/bin/env bash
# Container test: builds docker/Dockerfile with rootful podman, runs the service with a
# temporary data volume on a free loopback port, waits for healthy, generates over HTTP, checks
# the generation log, restarts and checks the log survived, stops with SIGTERM and checks exit
# code 0. Removes every container, volume and image it made (the base image stays cached).
# Exits 0 with "container-test: SKIPPED: <why>" when podman cannot run here.
#   --keep-image    keep the built image (diffulex-edge:container-test) afterwards
#   DIFFULEX_SKIP_CONTAINER_TEST=1 skips on purpose; CONTAINER_BUILD_ARGS="--build-arg X=Y ..."
#   goes to podman build (docker/Dockerfile's build args: JOBS, UNIT_TESTS, WITH_POCL).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="localhost/diffulex-edge:container-test"
TAG="dlx-ctest-$$"
KEY="ctest-key-$$"
keep_image=0
[ "${1:-}" != "--keep-image" ] || keep_image=1

skip() { echo "container-test: SKIPPED: $*"; exit 0; }
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }
say() { echo "container-test: $*"; }
t_start=$SECONDS
phase() { say "[$((SECONDS - t_start))s] $*"; }

[ "${DIFFULEX_SKIP_CONTAINER_TEST:-0}" != 1 ] || skip "DIFFULEX_SKIP_CONTAINER_TEST=1"
[ "$(uname -s)" = Linux ] || skip "needs Linux (this is $(uname -s))"
[ "$(id -u)" -eq 0 ] || skip "needs root for rootful podman and debootstrap (uid $(id -u))"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
   ! command -v debootstrap >/dev/null || ! command -v curl >/dev/null; then
  command -v apt-get >/dev/null || skip "podman/runc/debootstrap/curl missing and no apt-get"
  bash scripts/install-deps.sh --container ||
    skip "could not install podman, runc, debootstrap, curl (scripts/install-deps.sh --container)"
fi

# This machine's podman settings: runc (crun fails here) and ulimits below the host's hard ones.
work="$(mktemp -d /tmp/dlx-ctest.XXXXXX)"
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"

made_image=0
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && podman container exists "$TAG" 2>/dev/null; then
    echo "--- podman logs $TAG (last 40 lines) ---" >&2
    podman logs "$TAG" 2>&1 | tail -n 40 >&2 || true
  fi
  podman rm -f -t 0 "$TAG" >/dev/null 2>&1 || true
  podman volume rm -f "$TAG-data" >/dev/null 2>&1 || true
  if [ "$made_image" = 1 ] && [ "$keep_image" = 0 ]; then
    podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout 60 podman info >"$work/info" 2>&1 || skip "podman does not work here: $(tail -n 1 "$work/info")"

phase "base image"
rc=0
bash scripts/container-base.sh 2>"$work/base.err" || rc=$?
cat "$work/base.err" >&2
[ "$rc" -ne 3 ] || skip "$(tail -n 1 "$work/base.err")"
[ "$rc" -eq 0 ] || fail "scripts/container-base.sh exited $rc"
timeout 120 podman run --rm --pull=never debian:bookworm-slim true >"$work/run" 2>&1 ||
  skip "podman cannot run a container here: $(tail -n 1 "$work/run")"

phase "podman build (docker format, so HEALTHCHECK is kept)"
made_image=1
# --jobs 2: the runtime stage installs its packages while the build stage compiles.
read -r -a build_args <<<"${CONTAINER_BUILD_ARGS:-}"
timeout 3600 podman build --format docker --pull=never --jobs 2 "${build_args[@]}" \
  -f docker/Dockerfile -t "$IMAGE" . ||
  fail "podman build failed"
[ -n "$(podman image inspect --format '{{.HealthCheck}}' "$IMAGE" 2>/dev/null |
  grep -o healthcheck || true)" ] || fail "the image has no HEALTHCHECK (built in OCI format?)"
size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
say "image $IMAGE: $((size / 1000000)) MB"

# A free loopback port: nothing answers a connect.
port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || fail "no free loopback port found"
base="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $KEY")
http() { curl -sS --max-time 60 "$@"; }

wait_healthy() {
  local i status
  for i in $(seq 1 90); do
    status="$(podman inspect --format '{{.State.Status}}' "$TAG")"
    [ "$status" = running ] || fail "container is $status, not running (exit code" \
      "$(podman inspect --format '{{.State.ExitCode}}' "$TAG"))"
    if podman healthcheck run "$TAG" >/dev/null 2>&1; then
      say "healthy after ${i}s"
      return 0
    fi
    sleep 1
  done
  fail "not healthy after 90 s"
}

stop_cleanly() {
  local t0=$SECONDS code
  podman stop -t 30 "$TAG" >/dev/null
  code="$(podman inspect --format '{{.State.ExitCode}}' "$TAG")"
  [ "$code" = 0 ] || fail "exit code $code after SIGTERM (want 0; 137 = killed after the grace)"
  say "SIGTERM -> exit code 0 in $((SECONDS - t0))s"
}

phase "run on 127.0.0.1:$port with volume $TAG-data"
podman volume create "$TAG-data" >/dev/null
podman run -d --name "$TAG" -p "127.0.0.1:$port:8080" -v "$TAG-data:/data" \
  -e DIFFULEX_API_KEY="$KEY" -e DIFFULEX_THREADS=2 "$IMAGE" >/dev/null
wait_healthy
http "$base/health" | grep -q '"ok"' || fail "GET /health is not ok"
code="$(http -o /dev/null -w '%{http_code}' "$base/v1/generations")"
[ "$code" = 401 ] || fail "GET /v1/generations without the API key gave $code, not 401"

phase "generate over HTTP"
body='{"model":"default","prompt":"Hello","diffusion":{"gen_length":8,"block_length":8,"steps":8}}'
resp="$(http "${auth[@]}" -H 'Content-Type: application/json' -d "$body" "$base/v1/generate")"
echo "$resp" | grep -q '"output_ids":\[[0-9]' || fail "POST /v1/generate: $resp"
id="$(echo "$resp" | grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4)"
[ -n "$id" ] || fail "no id in the /v1/generate answer: $resp"
ids="$(echo "$resp" | grep -o '"output_ids":\[[0-9,]*\]')"
say "generation $id: $ids"
http "${auth[@]}" "$base/v1/generations" | grep -q "\"$id\"" ||
  fail "generation $id is not in GET /v1/generations"

phase "restart (SIGTERM, start) and check the log survived"
stop_cleanly
podman start "$TAG" >/dev/null
wait_healthy
log="$(http "${auth[@]}" "$base/v1/generations/$id")"
echo "$log" | grep -q "\"$id\"" || fail "generation $id lost after the restart: $log"
echo "$log" | grep -q '"status":"ok"' || fail "generation $id is not status ok: $log"
echo "$log" | grep -qF "$ids" || fail "generation $id: the log lost $ids: $log"

phase "stop with SIGTERM"
stop_cleanly
phase "passed"
