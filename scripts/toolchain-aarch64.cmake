# CMake toolchain file: cross-compiles for Linux aarch64 on Debian 12 with g++-aarch64-linux-gnu
# and the multiarch :arm64 libraries (scripts/install-deps.sh --arm64). Used by
# scripts/build-arm64.sh. Programs built here run on this machine through qemu's user-mode
# emulator: ctest (and gtest_discover_tests at build time) prefix them with it, and the
# environment variable QEMU_CPU picks the emulated core (scripts/test-arm64.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: the target's libraries live in /usr/lib/aarch64-linux-gnu of this very system,
# headers are shared (/usr/include). Programs (protoc, python) are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the aarch64 .pc files only (and the arch-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# The programs run with the multiarch loader and libraries (/lib/ld-linux-aarch64.so.1 from
# libc6:arm64, libstdc++6:arm64), found at their usual paths. Not with `-L /usr/aarch64-linux-gnu`
# (the cross toolchain's copies): under qemu 7.2 a program's first pthread_create then never
# returns.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64)
