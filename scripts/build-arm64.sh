#!/usr/bin/env bash
# Cross-builds DiffuLex Edge for Linux aarch64 (Release) into build-arm64/ with the toolchain
# file scripts/toolchain-aarch64.cmake. Installs the cross compiler, qemu and the :arm64
# libraries first (scripts/install-deps.sh --arm64). Copy build-arm64/service/diffulex to the
# board (it needs the runtime libraries of RUNTIME_PACKAGES in install-deps.sh there).
#   build-arm64.sh                 diffulex and every test target
#   build-arm64.sh TARGET...       only these targets (scripts/test-arm64.sh: diffulex tests_unit
#                                  tests_golden)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --arm64
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/toolchain-aarch64.cmake" "${launcher[@]}"
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build-arm64 -j "$(nproc)" "${targets[@]}"
