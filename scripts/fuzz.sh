#!/usr/bin/env bash
# Fuzzes every libFuzzer target of tests/fuzz for a bounded time each, one after the other
# (README "Fuzzing and sanitizers"). Builds them first in build-asan/ (the ASan + UBSan build of
# scripts/sanitize.sh; nothing to do when it is up to date).
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 60); default: all targets
# New inputs go to build-asan/fuzz/corpus/<target>/ (kept between runs, never committed); a
# crash, leak, timeout or out-of-memory input is written to build-asan/fuzz/artifacts/<target>/
# and the script exits 1 after the remaining targets ran. Copy such an input into
# tests/fuzz/regressions/<target>/ once it is fixed: ctest -L fuzz replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
TARGETS=(safetensors model_config tokenizer chat_template decode_params http_request gguf)
[ $# -eq 0 ] || TARGETS=("$@")
# Largest input per target (bytes): seeds are at most a few KB (tokenizer.json seeds 60 KB, the
# GGUF seeds 110 KB).
declare -A MAX_LEN=([safetensors]=16384 [model_config]=16384 [tokenizer]=131072
                    [chat_template]=16384 [decode_params]=4096 [http_request]=8192
                    [gguf]=131072)
# Extra dictionaries a target shares (besides tests/fuzz/json.dict.in and its own).
declare -A EXTRA_DICT=([http_request]=decode_params [tokenizer]=chat_template)

build="build-asan"
if [ ! -f "$build/CMakeCache.txt" ] || ! grep -q '^DIFFULEX_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  bash scripts/install-deps.sh
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${CXX_CLANG:-clang++-14}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    -DDIFFULEX_OPENCL=OFF -DDIFFULEX_SANITIZE=address -DDIFFULEX_FUZZ=ON >/dev/null
fi
targets=()
for t in "${TARGETS[@]}"; do targets+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
src=tests/fuzz
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  work="$build/fuzz/corpus/$t"
  artifacts="$build/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts" "$src/regressions/$t"
  dict="$build/fuzz/$t.dict"
  cat "$src/json.dict.in" "$src/$t.dict" > "$dict"
  [ -z "${EXTRA_DICT[$t]:-}" ] || cat "$src/${EXTRA_DICT[$t]}.dict" >> "$dict"
  log="$build/fuzz/$t.log"
  echo "=== fuzz: $t for ${seconds}s (log $log)"
  start=$SECONDS
  rc=0
  # -timeout: one input taking longer is a hang; -rss_limit_mb / -malloc_limit_mb: a memory blow-up.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -malloc_limit_mb=2048 -max_len="${MAX_LEN[$t]}" -dict="$dict" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "$src/corpus/$t" "$src/regressions/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  line=$(printf '%-14s %6ss %10s execs  %s' "$t" $((SECONDS - start)) "${execs:-?}" "${cov:-}")
  if [ "$rc" -ne 0 ]; then
    # shellcheck disable=SC2012  # artifact names are libFuzzer's crash-<sha1> and the like
    line+="  FAILED (exit $rc): $(ls -t "$artifacts" | head -1)"
    failed+=("$t")
    grep -m1 -A30 -E '^==[0-9]+==ERROR|runtime error|deadly signal|ALARM|out-of-memory' "$log" || tail -30 "$log"
  fi
  echo "$line"
  summary+=("$line")
done
echo "=== fuzz: summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under $build/fuzz/artifacts/)" >&2
  exit 1
fi
