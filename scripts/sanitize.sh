#!/usr/bin/env bash
# Sanitizer builds with Debian's clang 14 (README "Fuzzing and sanitizers"); CI runs this after
# scripts/test.sh. Stages, each timed:
#   asan  build-asan/: ASan + UBSan (UBSan findings abort) and the libFuzzer targets; runs ctest
#         labels unit, golden, integration and fuzz (every fuzz target over its seeds and
#         regressions). Integration tests start the sanitized `diffulex` as a subprocess, so the
#         server is checked too: a report aborts it and fails the test (tests/support/
#         serve_harness.h also fails a test whose server printed a report).
#   tsan  build-tsan/: ThreadSanitizer build of the service and its concurrency tests only
#         (queue, cancel, disconnect, shutdown, simultaneous streams, the log writer, thread pool).
# OpenCL is off in both (PoCL's LLVM is not instrumented; label backend is not run).
#   scripts/sanitize.sh [asan] [tsan]       (default: both)
# Extra ctest arguments: CTEST_ARGS="-R Jinja" scripts/sanitize.sh asan
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan tsan)
jobs="$(nproc)"
read -ra ctest_args <<<"${CTEST_ARGS:-}"
CXX_CLANG="${CXX_CLANG:-clang++-14}"
# -O1 with line tables: readable stacks, assertions kept (no NDEBUG), half the compile time of -O2.
common=(-G Ninja "-DCMAKE_CXX_COMPILER=$CXX_CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DDIFFULEX_OPENCL=OFF)

# A report stops the process with a distinct status: abort for ASan / UBSan / TSan reports,
# exit 86 for leaks found at exit (exit 1 is the CLI's own runtime-failure status).
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:exitcode=86:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/tests/support/lsan.supp:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:exitcode=86:suppressions=$PWD/tests/support/tsan.supp:${TSAN_OPTIONS:-}"

timings=()
stage_start=0
begin() {
  echo "=== sanitize: $1"
  stage_start=$SECONDS
}
end() {
  local t=$((SECONDS - stage_start))
  timings+=("$(printf '%-42s %3d:%02d' "$1" $((t / 60)) $((t % 60)))")
}

run_asan() {
  begin "asan build"
  cmake -S . -B build-asan "${common[@]}" -DDIFFULEX_SANITIZE=address -DDIFFULEX_FUZZ=ON >/dev/null
  cmake --build build-asan -j "$jobs" --target diffulex tests_unit tests_golden tests_integration \
    fuzz_targets
  end "asan build"
  begin "asan tests"
  (cd build-asan && ctest --output-on-failure -j "$jobs" -L 'unit|golden|integration|fuzz' \
    "${ctest_args[@]}") || failed+=(asan)
  end "asan tests (unit golden integration fuzz)"
}

# The TSan stage: the service's threads (HTTP, workers, log writer, shutdown) and what they share.
TSAN_TARGETS=(diffulex serve_lifecycle_test serve_generate_test serve_admission_test
              http_hardening_test service_db_test completion_text_test thread_pool_test)
TSAN_TESTS='^((ServeLifecycle|ServeAdmission|HttpHardening|Migrations|DbTest|CompletionTextTest|ThreadPool)\.|ServeGenerate\.(EightSimultaneousStreams|DenoiseStream|AppendStream|OpenAIChat|StopStrings)$)'

run_tsan() {
  begin "tsan build"
  cmake -S . -B build-tsan "${common[@]}" -DDIFFULEX_SANITIZE=thread >/dev/null
  cmake --build build-tsan -j "$jobs" --target "${TSAN_TARGETS[@]}"
  end "tsan build"
  begin "tsan tests"
  (cd build-tsan && ctest --output-on-failure -j "$jobs" -R "$TSAN_TESTS" "${ctest_args[@]}") ||
    failed+=(tsan)
  end "tsan tests (service concurrency)"
}

failed=()
total_start=$SECONDS
summary() {
  local t=$((SECONDS - total_start))
  echo "=== sanitize: stage times (min:s)"
  [ ${#timings[@]} -eq 0 ] || printf '  %s\n' "${timings[@]}"
  printf '  %-42s %3d:%02d\n' "total" $((t / 60)) $((t % 60))
}
trap summary EXIT
for s in "${stages[@]}"; do
  case "$s" in
    asan) run_asan ;;
    tsan) run_tsan ;;
    *) echo "sanitize: unknown stage '$s' (asan, tsan)" >&2; exit 2 ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize: tests failed in ${failed[*]}" >&2
  exit 1
fi
