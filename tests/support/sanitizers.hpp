#pragma once
// Which sanitizer this test binary is built with: g++ says so with __SANITIZE_ADDRESS__ and
// __SANITIZE_THREAD__, clang with __has_feature.

namespace scalelab::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kAddressSanitizer = __has_feature(address_sanitizer);
#else
inline constexpr bool kAddressSanitizer = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kThreadSanitizer = __has_feature(thread_sanitizer);
#else
inline constexpr bool kThreadSanitizer = false;
#endif

/// Why a test whose forked child must run threads skips under ThreadSanitizer: TSan fails such
/// a child ("dup thread with used id", exit 66) even with die_after_fork=0.
inline constexpr const char* kTsanForkLimit =
    "ThreadSanitizer cannot run threads in a child forked from a multithreaded process";

}  // namespace scalelab::testing
