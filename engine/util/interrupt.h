// Interrupt: a cancel flag and a deadline that long-running engine work (a forward between its
// layers, a chat template render between its steps) checks, so it stops promptly.
#pragma once

#include <atomic>
#include <chrono>

namespace dlx {

struct Interrupt {
  const std::atomic<bool>* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Throws Error kCancelled when the flag is set, kTimeout when the deadline has passed; `what`
  // names the work in the message ("generation", "chat rendering").
  void check(const char* what = "generation") const;
};

}  // namespace dlx
