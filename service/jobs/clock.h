// Wall-clock and monotonic time helpers of the service (unix ms for stored rows, steady
// durations for latencies and deadlines).
#pragma once

#include <chrono>
#include <cstdint>

namespace dlx {

using SteadyClock = std::chrono::steady_clock;

inline int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace dlx
