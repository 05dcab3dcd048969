#!/usr/bin/env bash
# Installs every system package DiffuLex Edge needs on Debian 12 (bookworm).
# The only place that lists them. Noninteractive and idempotent: safe to run again.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # engine
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev
  # service
  libcpp-httplib-dev libsqlite3-dev sqlite3
  # OpenCL: loader, headers, CLBlast, and PoCL so OpenCL runs on the CPU in tests
  ocl-icd-opencl-dev opencl-c-headers libclblast-dev pocl-opencl-icd clinfo
  # tests
  libgtest-dev libgmock-dev python3 curl
  # browser test of the web playground (headless, driven through chromedriver)
  chromium chromium-driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
