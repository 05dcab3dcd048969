#!/usr/bin/env bash
# Container test: builds docker/Dockerfile with rootful podman, runs the service with a
# temporary data volume on a free loopback port, waits for healthy, generates over HTTP, checks
# the generation log, restarts and checks the log survived, stops with SIGTERM and checks exit
# code 0. Removes the containers and volumes it made. Images stay as build cache (an unchanged
# tree then skips the compile): the base image, the build stage (diffulex-edge:build-cache) and
# the image (diffulex-edge:container-test); older untagged ones of ours are pruned, so the cache
# does not grow with every change. --remove-images removes the two tags too.
# Exits 0 with "container-test: SKIPPED: <why>" when podman cannot work here (no root, no
# podman, no runtime, no Debian mirror); exits 1 only when the image or the service is wrong.
#   DIFFULEX_SKIP_CONTAINER_TEST=1 skips on purpose; CONTAINER_BUILD_ARGS="--build-arg X=Y ..."
#   goes to podman build (docker/Dockerfile's build args: JOBS, UNIT_TESTS, WITH_POCL,
#   DEFAULT_MODEL); CONTAINER_BUILD_TIMEOUT (seconds, default 1500) bounds the image build.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="localhost/diffulex-edge:container-test"
CACHE="localhost/diffulex-edge:build-cache"
TAG="dlx-ctest-$$"
KEY="ctest-key-$$"
remove_images=0
[ "${1:-}" != "--remove-images" ] || remove_images=1

skip() { echo "container-test: SKIPPED: $*"; exit 0; }
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }
say() { echo "container-test: $*"; }
t_start=$SECONDS
phase() { say "[$((SECONDS - t_start))s] $*"; }
# Every podman call has a time limit, so a hung runtime or mirror cannot stall CI.
pm() { local t=$1; shift; timeout --kill-after=10 "$t" podman "$@"; }
# Without systemd podman logs an error for each health check timer it cannot set up; the test
# polls `podman healthcheck run` itself, so those lines are noise.
quiet_timers() { "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

[ "${DIFFULEX_SKIP_CONTAINER_TEST:-0}" != 1 ] || skip "DIFFULEX_SKIP_CONTAINER_TEST=1"
[ "$(uname -s)" = Linux ] || skip "needs Linux (this is $(uname -s))"
[ "$(id -u)" -eq 0 ] || skip "needs root for rootful podman and debootstrap (uid $(id -u))"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
   ! command -v debootstrap >/dev/null || ! command -v curl >/dev/null; then
  command -v apt-get >/dev/null || skip "podman/runc/debootstrap/curl missing and no apt-get"
  timeout 900 bash scripts/install-deps.sh --container ||
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

# Untagged images with our label (docker/Dockerfile): earlier builds' stages. A prune removes
# only leaves, so repeat until a pass removes nothing.
prune_ours() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ -n "$(pm 300 image prune -f --filter label=io.diffulex.stage 2>/dev/null)" ] || break
  done
}
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && podman container exists "$TAG" 2>/dev/null; then
    echo "--- podman logs $TAG (last 40 lines) ---" >&2
    pm 30 logs "$TAG" 2>&1 | tail -n 40 >&2 || true
  fi
  # -v: also the anonymous /models volume the image's VOLUME line creates.
  pm 60 rm -f -v -t 0 "$TAG" >/dev/null 2>&1 || true
  pm 60 volume rm -f "$TAG-data" >/dev/null 2>&1 || true
  if [ "$remove_images" = 1 ]; then
    pm 120 rmi -f "$IMAGE" "$CACHE" >/dev/null 2>&1 || true
  fi
  prune_ours
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pm 60 info >"$work/info" 2>&1 || skip "podman does not work here: $(tail -n 1 "$work/info")"

phase "base image"
rc=0
timeout --kill-after=10 1200 bash scripts/container-base.sh 2>"$work/base.err" || rc=$?
cat "$work/base.err" >&2
[ "$rc" -ne 3 ] || skip "$(tail -n 1 "$work/base.err")"
[ "$rc" -ne 124 ] || skip "making the base image took over 20 minutes (slow Debian mirror?)"
# Podman's own storage or sandbox cannot work here (e.g. nested in a container: "'overlay' is
# not supported over overlayfs"): that is this machine, not the image.
PODMAN_HOST_ERRORS='not supported over overlayfs|overlay.*not supported|storage driver|kernel does not support overlay|cannot set up namespace|unshare|mount.*permission denied|Operation not permitted'
if [ "$rc" -ne 0 ] && grep -qiE "$PODMAN_HOST_ERRORS" "$work/base.err"; then
  skip "podman cannot build images here: $(grep -m1 -iE "$PODMAN_HOST_ERRORS" "$work/base.err")"
fi
[ "$rc" -eq 0 ] || fail "scripts/container-base.sh exited $rc"
pm 120 run --rm --pull=never debian:bookworm-slim true >"$work/run" 2>&1 ||
  skip "podman cannot run a container here: $(tail -n 1 "$work/run")"
# The image build runs apt-get in containers: check they reach the mirror the base image uses.
probe='set -- $(grep -m1 "^deb " /etc/apt/sources.list)
  /usr/lib/apt/apt-helper download-file "$2/dists/$3/InRelease" /tmp/InRelease'
pm 120 run --rm --pull=never debian:bookworm-slim sh -c "$probe" >"$work/run" 2>&1 ||
  skip "containers cannot reach the Debian mirror:" \
    "$(grep -m1 '^E: Failed to fetch' "$work/run" || tail -n 1 "$work/run")"

# Network trouble in the build's apt-get is the machine's, not the image's.
NET_ERRORS='Failed to fetch|Temporary failure resolving|Could not resolve|Could not connect|Unable to connect|Connection timed out|Network is unreachable'
read -r -a build_args <<<"${CONTAINER_BUILD_ARGS:-}"
build() {  # build <what> <podman build args...>
  local what=$1 rc=0
  shift
  timeout --kill-after=30 "${CONTAINER_BUILD_TIMEOUT:-1500}" podman build --format docker \
    --pull=never "${build_args[@]}" -f docker/Dockerfile "$@" . 2>&1 |
    tee "$work/build.log" || rc=$?
  [ "$rc" -eq 0 ] && return 0
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
    fail "podman build ($what) took over ${CONTAINER_BUILD_TIMEOUT:-1500} s"
  ! grep -qE "$NET_ERRORS" "$work/build.log" ||
    skip "the image build could not reach the Debian mirror: $(grep -m1 -E "$NET_ERRORS" \
      "$work/build.log")"
  fail "podman build ($what) failed"
}

phase "podman build, build stage (packages, Release build, unit tests)"
build "build stage" --target build -t "$CACHE"

phase "podman build, runtime stage (docker format, so HEALTHCHECK is kept)"
build "runtime stage" -t "$IMAGE"
[ -n "$(pm 60 image inspect --format '{{.HealthCheck}}' "$IMAGE" 2>/dev/null |
  grep -o healthcheck || true)" ] || fail "the image has no HEALTHCHECK (built in OCI format?)"
size="$(pm 60 image inspect --format '{{.Size}}' "$IMAGE")"
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
    status="$(pm 30 container inspect --format '{{.State.Status}}' "$TAG")"
    [ "$status" = running ] || fail "container is $status, not running (exit code" \
      "$(pm 30 container inspect --format '{{.State.ExitCode}}' "$TAG"))"
    if pm 30 healthcheck run "$TAG" >/dev/null 2>&1; then
      say "healthy after ${i}s"
      return 0
    fi
    sleep 1
  done
  fail "not healthy after 90 s"
}

stop_cleanly() {
  local t0=$SECONDS code
  quiet_timers pm 60 stop -t 30 "$TAG" >/dev/null
  # wait: the exit code once the container has exited (inspect right after stop may race).
  code="$(pm 60 wait "$TAG")"
  [ "$code" = 0 ] || fail "exit code $code after SIGTERM (want 0; 137 = killed after the grace)"
  say "SIGTERM -> exit code 0 in $((SECONDS - t0))s"
}

phase "run on 127.0.0.1:$port with volume $TAG-data"
pm 60 volume create "$TAG-data" >/dev/null
quiet_timers pm 120 run -d --name "$TAG" -p "127.0.0.1:$port:8080" -v "$TAG-data:/data" \
  -e DIFFULEX_API_KEY="$KEY" -e DIFFULEX_THREADS=2 "$IMAGE" >/dev/null
wait_healthy
uid="$(pm 30 exec "$TAG" id -u)"
[ "$uid" = 10001 ] || fail "the service runs as uid $uid, not the image's non-root user 10001"
http "$base/health" | grep -q '"ok"' || fail "GET /health is not ok"
code="$(http -o /dev/null -w '%{http_code}' "$base/v1/generations")"
[ "$code" = 401 ] || fail "GET /v1/generations without the API key gave $code, not 401"

phase "generate over HTTP"
# No "model": the one loaded model (the bundled one, whatever DEFAULT_MODEL names) answers.
body='{"prompt":"Hello","diffusion":{"gen_length":8,"block_length":8,"steps":8}}'
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
quiet_timers pm 120 start "$TAG" >/dev/null
wait_healthy
log="$(http "${auth[@]}" "$base/v1/generations/$id")"
echo "$log" | grep -q "\"$id\"" || fail "generation $id lost after the restart: $log"
echo "$log" | grep -q '"status":"ok"' || fail "generation $id is not status ok: $log"
echo "$log" | grep -qF "$ids" || fail "generation $id: the log lost $ids: $log"

phase "stop with SIGTERM"
stop_cleanly
phase "passed"
