#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest, in parallel). Extra args go to ctest,
# e.g. `scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
