#!/usr/bin/env bash
# The aarch64 build under emulation (README "ARM64"); CI runs it from .ci/run. Cross-builds
# diffulex and the unit and golden test executables (scripts/build-arm64.sh), then runs
# `ctest -L 'unit|golden'` under qemu-aarch64 once per NEON level the kernels dispatch to,
# choosing the level by the emulated core (QEMU_CPU, read by qemu-aarch64 itself):
#   cortex-a53   neon       ASIMD only (Armv8.0)
#   neoverse-n1  neon_dot   + dotprod, fp16 (Armv8.2)
#   max          neon_i8mm  + i8mm, bf16 (everything qemu 7.2 emulates)
# Each run also checks that the kernels detected exactly that level (DLX_EXPECT_ISA, tested by
# cpu_kernels_test). Emulation checks correctness only: no timing from it means anything.
#   scripts/test-arm64.sh [LEVEL...]      (default: all three; e.g. `test-arm64.sh neon_dot`)
# Skips with exit 0 only when the cross compiler or qemu is missing after the install step
# (e.g. no root / sudo to install them); extra ctest arguments: CTEST_ARGS="-R Jinja".
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/install-deps.sh --arm64 ||
  echo "test-arm64: installing the cross toolchain failed (see above)" >&2
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "test-arm64: SKIPPED: aarch64-linux-gnu-g++ or qemu-aarch64 is not installed" \
    "(scripts/install-deps.sh --arm64 installs them)"
  exit 0
fi

levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(neon neon_dot neon_i8mm)
read -ra ctest_args <<<"${CTEST_ARGS:-}"

bash scripts/build-arm64.sh diffulex tests_unit tests_golden
echo "test-arm64: build took $((SECONDS - start)) s"

# ctest prefixes each test with the emulator of scripts/toolchain-aarch64.cmake
# (qemu-aarch64 -L /usr/aarch64-linux-gnu); QEMU_CPU reaches it through the environment.
for level in "${levels[@]}"; do
  case "$level" in
    neon) cpu=cortex-a53 ;;
    neon_dot) cpu=neoverse-n1 ;;
    neon_i8mm) cpu=max ;;
    *) echo "test-arm64: unknown level '$level' (neon, neon_dot, neon_i8mm)" >&2; exit 2 ;;
  esac
  t0=$SECONDS
  echo "test-arm64: $level (qemu -cpu $cpu)"
  QEMU_CPU=$cpu DLX_EXPECT_ISA=$level \
    ctest --test-dir build-arm64 -L 'unit|golden' --output-on-failure -j "$(nproc)" \
    "${ctest_args[@]}"
  echo "test-arm64: $level took $((SECONDS - t0)) s"
done
echo "test-arm64: passed (${levels[*]}) in $((SECONDS - start)) s"
