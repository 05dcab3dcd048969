// Whether this test binary is a sanitizer build (scripts/sanitize.sh), and the factor its
// wall-clock budgets are stretched by there: ASan's allocator makes allocation-heavy code (the
// chat template interpreter) 10-20x slower, so "stops within N seconds" checks scale with it.
// Normal builds use the budgets as written; emulated ones (below) stretch them too.
#pragma once

namespace dlx::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// Under qemu's user-mode emulation (the aarch64 cross build, DLX_EMULATOR: scripts/test-arm64.sh)
// the template interpreter ran ~2.6x over its 30 s budget on a loaded 2-core machine.
#if defined(DLX_EMULATOR)
inline constexpr bool kEmulated = true;
#else
inline constexpr bool kEmulated = false;
#endif

inline constexpr double kTimeScale = kEmulated ? 10.0 : kSanitized ? 4.0 : 1.0;

}  // namespace dlx::test
