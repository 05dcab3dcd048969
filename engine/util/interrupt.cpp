#include "engine/util/interrupt.h"

#include <string>

#include "engine/util/error.h"

namespace dlx {

void Interrupt::check(const char* what) const {
  if (cancel && cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorCode::kCancelled, std::string(what) + " cancelled");
  }
  if (deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= deadline) {
    throw Error(ErrorCode::kTimeout, std::string(what) + " stopped: its time limit has passed");
  }
}

}  // namespace dlx
