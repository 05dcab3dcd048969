#!/usr/bin/env bash
# The aarch64 build under emulation (README "ARM64"); CI runs it from .ci/run. Cross-builds
# diffulex and the unit and golden test executables (scripts/build-arm64.sh), then runs ctest
# under qemu-aarch64 once per NEON level the kernels dispatch to, choosing the level by the
# emulated core (QEMU_CPU, read by qemu-aarch64 itself):
#   max          neon_i8mm  + i8mm, bf16 (all qemu 7.2 emulates)  every unit and golden test
#   neoverse-n1  neon_dot   + dotprod, fp16 (Armv8.2)              the level-dependent tests
#   cortex-a53   neon       ASIMD only (Armv8.0)                   the level-dependent tests
# The kernel tests call every level the CPU has, so the `max` run checks all levels' kernels.
# The three NEON levels differ only in the int8 matmul, so the two lower cores run the tests
# whose code depends on the level (kernels, detection, CPU ops) and the forwards through the
# dispatch (golden logits, llama.cpp's int8 GGUFs); everything else ran at `max`.
# Left out at every level, as too slow under emulation (minutes natively-fast code, over 5 min each
# under qemu) while running no code the golden logits do not: DemoModel.HeldOutAccuracyHolds (200
# generations) and SessionLogits.CapacityIsTheScoredRowsNotTheCanvas (a 151,936-token vocabulary
# over a 640-token canvas). `--full` runs everything at every level. Each run also checks that the kernels detected exactly
# its level (DLX_EXPECT_ISA, tested by cpu_kernels_test). Emulation checks correctness only:
# no timing from it means anything.
#   scripts/test-arm64.sh [--full] [LEVEL...]    (default: all three; e.g. `test-arm64.sh neon`)
# Skips with exit 0 only when the cross compiler or qemu is missing after the install step
# (e.g. no root / sudo to install them); extra ctest arguments: CTEST_ARGS="-R Jinja".
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
full=0
if [ "${1:-}" = --full ]; then
  full=1
  shift
fi
bash scripts/install-deps.sh --arm64 ||
  echo "test-arm64: installing the cross toolchain failed (see above)" >&2
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "test-arm64: SKIPPED: aarch64-linux-gnu-g++ or qemu-aarch64 is not installed" \
    "(scripts/install-deps.sh --arm64 installs them)"
  exit 0
fi

levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(neon_i8mm neon_dot neon)
read -ra ctest_args <<<"${CTEST_ARGS:-}"

bash scripts/build-arm64.sh diffulex tests_unit tests_golden
echo "test-arm64: build took $((SECONDS - start)) s"

# ctest prefixes each test with the emulator of scripts/toolchain-aarch64.cmake (qemu-aarch64);
# QEMU_CPU reaches it through the environment.
too_slow='^(DemoModel\.HeldOutAccuracyHolds|SessionLogits\.CapacityIsTheScoredRowsNotTheCanvas)$'
# On the two lower cores: what depends on the level (kernel tests, the detected level, the
# CPU ops) and end-to-end forwards through the dispatch (golden logits, llama.cpp's int8 GGUFs);
# the rest runs the same code at every NEON level and ran at `max`. Keeps CI's ARM step short.
level_dependent='^(Threads/Kernels|Threads/QuantMatmul|QuantizeRowQ8|RowReduce|CpuFeatures|Threads/CpuOps|AllFamilies/GoldenLogits|LlamaCppFiles/GgufInterop)\.'
for level in "${levels[@]}"; do
  subset=()
  case "$level" in
    neon_i8mm) cpu=max ;;
    neon_dot) cpu=neoverse-n1 ;;
    neon) cpu=cortex-a53 ;;
    *) echo "test-arm64: unknown level '$level' (neon_i8mm, neon_dot, neon)" >&2; exit 2 ;;
  esac
  if [ $full = 0 ]; then
    subset=(-E "$too_slow")
    [ "$level" = neon_i8mm ] || subset=(-R "$level_dependent")
  fi
  t0=$SECONDS
  echo "test-arm64: $level (qemu -cpu $cpu)${subset:+, without ${subset[1]}}"
  QEMU_CPU=$cpu DLX_EXPECT_ISA=$level \
    ctest --test-dir build-arm64 -L 'unit|golden' "${subset[@]}" --output-on-failure \
    -j "$(nproc)" "${ctest_args[@]}"
  echo "test-arm64: $level took $((SECONDS - t0)) s"
done
echo "test-arm64: passed (${levels[*]}) in $((SECONDS - start)) s"
