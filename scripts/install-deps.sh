#!/usr/bin/env bash
# Installs every system package DiffuLex Edge needs on Debian 12 (bookworm).
# The only place that lists them. Noninteractive and idempotent: safe to run again.
#   install-deps.sh                  build, test and run here (the default; README, CI)
#   install-deps.sh --container      podman & co. for scripts/container-test.sh, nothing else
#   install-deps.sh --image-build    docker/Dockerfile build stage: PACKAGES less dev tools, + ccache
#   install-deps.sh --image-runtime [--pocl]   runtime stage: the libraries diffulex loads
#   install-deps.sh --train          tools/train_demo_model.py (torch, regex, OpenBLAS, fortunes)
#   install-deps.sh --arm64          aarch64 cross-build and qemu (scripts/build-arm64.sh, test-arm64.sh)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # engine
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev
  # service
  libcpp-httplib-dev libsqlite3-dev sqlite3
  # line editing and history of `diffulex chat` (BSD licence; GNU readline's GPL would bind it)
  libedit-dev
  # OpenCL: loader, headers, CLBlast, and PoCL so OpenCL runs on the CPU in tests
  ocl-icd-opencl-dev opencl-c-headers libclblast-dev pocl-opencl-icd clinfo
  # tests
  libgtest-dev libgmock-dev python3 curl
  # browser test of the web playground (headless, driven through chromedriver)
  chromium chromium-driver
  # scripts/sanitize.sh and scripts/fuzz.sh: clang 14, its sanitizer runtimes and libFuzzer,
  # llvm-symbolizer for readable reports
  clang libclang-rt-14-dev llvm
)

# Not needed to compile and run the unit tests in the image (PoCL alone pulls in LLVM).
IMAGE_BUILD_SKIP=(git ca-certificates sqlite3 pocl-opencl-icd clinfo python3 curl chromium
  chromium-driver clang libclang-rt-14-dev llvm)
# Shared libraries the built diffulex links (`ldd`); their dependencies come with them.
RUNTIME_PACKAGES=(libpcre2-8-0 libutf8proc2 libcpp-httplib0.11 libsqlite3-0 libssl3
  ocl-icd-libopencl1 libclblast1 libedit2)
# scripts/container-test.sh: rootful podman with runc (crun fails here), debootstrap for the
# base image, curl for its HTTP requests.
CONTAINER_PACKAGES=(podman runc debootstrap curl)
# tools/train_demo_model.py: Debian's torch uses the generic reference BLAS (~5 GFLOP/s here)
# unless OpenBLAS provides libblas.so.3 (~150 GFLOP/s); fortunes is its text.
TRAIN_PACKAGES=(python3-torch python3-regex libopenblas0-pthread fortunes)
# scripts/build-arm64.sh and scripts/test-arm64.sh: the aarch64 cross compiler, qemu's user-mode
# emulator (ctest runs the aarch64 test binaries through it, with the arm64 libc's loader) and
# the :arm64 multiarch libraries the build links, as in PACKAGES (header-only and arch-all
# packages come from the default mode).
ARM64_PACKAGES=(g++-aarch64-linux-gnu qemu-user libc6:arm64 libstdc++6:arm64
  libpcre2-dev:arm64 libutf8proc-dev:arm64 libsqlite3-dev:arm64 libssl-dev:arm64
  libcpp-httplib-dev:arm64 libedit-dev:arm64 ocl-icd-opencl-dev:arm64 libclblast-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64)

mode="${1:-}"
case "$mode" in
  "") ;;
  --container) PACKAGES=("${CONTAINER_PACKAGES[@]}") ;;
  --train) PACKAGES=("${TRAIN_PACKAGES[@]}") ;;
  --arm64) PACKAGES=("${ARM64_PACKAGES[@]}") ;;
  --image-build)
    keep=()
    for p in "${PACKAGES[@]}"; do
      [[ " ${IMAGE_BUILD_SKIP[*]} " == *" $p "* ]] || keep+=("$p")
    done
    PACKAGES=("${keep[@]}" ccache)  # its cache mount outlives image layers
    ;;
  --image-runtime)
    PACKAGES=("${RUNTIME_PACKAGES[@]}")
    [ "${2:-}" != "--pocl" ] || PACKAGES+=(pocl-opencl-icd)
    ;;
  *) echo "install-deps: unknown option '$mode' (see the header of $0)" >&2; exit 2 ;;
esac

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
if [ "$mode" = --arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
