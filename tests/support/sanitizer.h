// Whether this test binary is a sanitizer build (scripts/sanitize.sh), and the factor its
// wall-clock budgets are stretched by there: ASan's allocator makes allocation-heavy code (the
// chat template interpreter) 10-20x slower, so "stops within N seconds" checks scale with it.
// Normal builds use the budgets as written.
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

inline constexpr double kTimeScale = kSanitized ? 4.0 : 1.0;

}  // namespace dlx::test
